// The window: mounts the Svelte app with the API client over window.glance. The main process opens the same bundle
// in two more windows and picks the view by the URL hash: #capture (the screen-capture overlay) and #ask.
import { mount } from 'svelte';
import App from './App.svelte';
import { createApi } from './lib/api.ts';
import AskWindow from './views/AskWindow.svelte';
import CaptureOverlay from './views/CaptureOverlay.svelte';
import './styles.css';

const target = document.getElementById('app')!;
const api = createApi();
const view = location.hash;

if (view === '#capture') mount(CaptureOverlay, { target, props: { api } });
else if (view === '#ask') mount(AskWindow, { target, props: { api } });
else mount(App, { target, props: { api } });
