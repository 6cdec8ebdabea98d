// Electron Forge configuration. Minimal until the desktop shell lands: that work adds the Vite plugin entries
// (main, preload, engine, renderer), asar unpacking of every native file, and fuses.
const config = {
  packagerConfig: { name: 'Glance', asar: true },
  makers: [],
};

export default config;
