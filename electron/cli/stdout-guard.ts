// Standard output belongs to Glance: tables, JSON, answers. Libraries print there on their own (libheif-js logs its
// failures with console.log, wasm modules printf, bindings print banners), and one stray line breaks `--json` and
// every pipe. The guard sends every write to process.stdout, console.log's included, to stderr instead, and hands
// Glance the one write that still reaches stdout. (Native code writing to file descriptor 1 is out of its reach.)

let own: ((text: string) => void) | undefined;

/** Installs the guard (once per process) and returns the write for Glance's own output. */
export function guardStdout(): (text: string) => void {
  if (!own) {
    const stdout = process.stdout;
    const write = stdout.write.bind(stdout);
    own = (text) => {
      write(text);
    };
    stdout.write = process.stderr.write.bind(process.stderr) as typeof stdout.write;
  }
  return own;
}
