import { startNginxSink } from '@deaddrop/test';
import { conformanceSuite } from './sink-conformance.js';

conformanceSuite('nginx', startNginxSink);
