// `npm pack` ships package.json as it is, and npm 11 warns about any package whose
// manifest has a `prepare` script ("has install scripts not yet covered by allowScripts")
// when it is installed, although only a checkout needs it (to build lib/). So prepack
// hides it (`_prepare`) and postpack puts it back, as pinst does for postinstall.
import { readFileSync, writeFileSync } from 'node:fs';

const [from, to] = process.argv[2] === 'hide' ? ['prepare', '_prepare'] : ['_prepare', 'prepare'];
const text = readFileSync('package.json', 'utf8');
const manifest = JSON.parse(text);
if (manifest.scripts?.[from] !== undefined) {
  const scripts = {};
  for (const [name, command] of Object.entries(manifest.scripts)) {
    scripts[name === from ? to : name] = command;
  }
  manifest.scripts = scripts;
  writeFileSync('package.json', `${JSON.stringify(manifest, null, 2)}\n`);
}
