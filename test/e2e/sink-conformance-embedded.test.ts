import { startEmbeddedSink } from '@deaddrop/test';
import { conformanceSuite } from './sink-conformance.js';

conformanceSuite('embedded', startEmbeddedSink);
