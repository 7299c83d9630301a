// Builds the Temporal CLI into .tools/bin when it is missing (CI runs this before the tests so the
// first build's minutes are not spent inside a test timeout).
import { ensureTemporalCli } from './services/temporal-server';

const binary = ensureTemporalCli();
console.log(binary ? `Temporal CLI: ${binary}` : 'No Temporal CLI and no Go: the SDK will download the dev server');
