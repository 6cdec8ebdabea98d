// `npm run make` (after `electron-forge package`): this machine's installers from the packaged app, with
// electron-builder --prepackaged. The binaries in the app were already chosen for this platform, arch and
// GLANCE_LLAMA_BACKENDS when Forge packaged it; run both steps with the same environment.
import { existsSync } from 'node:fs';
import builder from 'electron-builder';
import { builderConfig, hostTarget, prepackagedPath } from '../electron-builder.config.ts';

const { Arch, build, Platform } = builder;

const target = hostTarget();
const prepackaged = prepackagedPath(target);
if (!existsSync(prepackaged)) {
  console.error(`${prepackaged} is missing: run \`npm run package\` first (same GLANCE_LLAMA_BACKENDS)`);
  process.exit(1);
}
const platform = Platform.fromString(process.platform);
const arch = Arch[target.arch as keyof typeof Arch];
if (arch === undefined) throw new Error(`electron-builder has no arch ${target.arch}`);

const artifacts = await build({
  prepackaged,
  config: builderConfig(target),
  targets: platform.createTarget(null, arch),
  publish: 'never', // uploading is a release step; the update metadata (latest*.yml) is written beside the installers
});
console.log(artifacts.join('\n'));
