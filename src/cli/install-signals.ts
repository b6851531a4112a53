// Imported first by main.ts: ES modules evaluate in import order, so SIGINT/SIGTERM are
// handled (exit 130) before the commands and the AWS SDK load.
import { installSignalHandlers } from './signals.js';

installSignalHandlers();
