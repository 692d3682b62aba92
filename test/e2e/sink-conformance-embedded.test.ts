import { startEmbeddedSink } from '@deaddrop/test';
import { conformanceSuite, readerSuite } from './sink-conformance.js';

conformanceSuite('embedded', startEmbeddedSink);
readerSuite('embedded', startEmbeddedSink);
