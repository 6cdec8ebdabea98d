// The window: mounts the Svelte app with the API client over window.glance.
import { mount } from 'svelte';
import App from './App.svelte';
import { createApi } from './lib/api.ts';
import './styles.css';

mount(App, { target: document.getElementById('app')!, props: { api: createApi() } });
