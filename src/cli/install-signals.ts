// Imported first by main.ts: ES modules evaluate in import order, so SIGINT/SIGTERM are
// handled (exit 130), and a closed stdout or stderr ends no process with a stack trace
// (pipes.ts), before the commands and the AWS SDK load.
import { installPipeGuards } from './pipes.js';
import { installSignalHandlers } from './signals.js';

installSignalHandlers();
installPipeGuards();
