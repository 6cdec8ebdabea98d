// Placeholder until the Svelte app lands: proves the renderer entry builds and loads under the app's CSP.
const root = document.getElementById('app');
if (root) root.textContent = 'Glance';
