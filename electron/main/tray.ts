// The tray icon: Glance lives there while its windows are closed (indexing and the ask hotkey keep working).
import { Menu, type NativeImage, Tray } from 'electron';

/** A plain ring-and-dot mark (32 px PNG), for a package without resources/icons/tray.png. */
export const FALLBACK_TRAY_ICON =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAACAAAAAgCAMAAABEpIrGAAABAlBMVEVMaXEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADieXDlAAAAVXRSTlMAjvgG0/da/g0MWXHzAekcZGJyt7UeAnAHi1eMzaRzPj1NvoVMvUtP9MC/0q9UZrKxsOhV590aG41by6Y/8vGDiB0Dioni4d5d3N/bpczPzqgOdKdYSaHrLAAAAAlwSFlzAAALEwAACxMBAJqcGAAAAXxJREFUOMuVU9dWwkAQJYF0Sgih96Y0EVARxN57v///K26ym5iCnsO87N5pO3d2JhLZRD7qS00T6/J6a0HP8LCFz+jRkDmx9wCP3Iwv/XZ511JLL1WOq1Yk6z7xPZSNEdV+fk7RPD8jMJb1xBO7dKX8KpQiyRJzc+RIfqHkf1MVgGmCgXsSLwar3iE5VMbvEbgO0y4DB5StTupTwg5yEkjbtwyQZ8rtfq83aDJgAKbtyUNKUdU57VKbokMJvEXkGDhi8U4fOxRXgDo5RKBKFX3HoUXxF/BNjk+gSBVxx+HE5VEjRw0oBxxOKV4AhtUz4JkqBo5Dl+J3oOQrsuk4bLlFNqyPEVyabWo/89O0GqWx3nRa8XiXxVvFmU6rZ/+2unDnEvUK535WZPnXdzszkpuQgQl4iGRgRgnfyC08UypzJH6oBIY2aTC2KYPUh+GFr+SpPfZvK45bvdpjP1KCi/PkXZzbcS5EK5o22eoJZjq6fj3lhqppakPZaON/AB1cW28LA5GVAAAAAElFTkSuQmCC';

export interface TrayActions {
  open(): void;
  askAboutScreen(): void;
  quit(): void;
}

export function createTray(icon: NativeImage | string, actions: TrayActions): Tray {
  const tray = new Tray(icon);
  tray.setToolTip('Glance');
  tray.setContextMenu(
    Menu.buildFromTemplate([
      { label: 'Open Glance', click: () => actions.open() },
      { label: 'Ask about the screen…', click: () => actions.askAboutScreen() },
      { type: 'separator' },
      { label: 'Quit', click: () => actions.quit() },
    ]),
  );
  // Windows and most Linux trays: a click on the icon opens the app (macOS shows the menu instead).
  tray.on('click', () => actions.open());
  return tray;
}
