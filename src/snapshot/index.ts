export * from './format.js';
export * from './writer.js';
export * from './reader.js';
export * from './catalog.js';
export { gzipJsonLines, gunzipJsonLines, lines } from './codec.js';
export * from './retention.js';
export * from './import-csv.js';
export * from './redaction.js';
export {
  AGE_SCHEME,
  AgeKeyring,
  AgeRecipients,
  DecryptError,
  KeyMismatchError,
  KeyRequiredError,
} from './age.js';
export * from './progress.js';
export * from './documents.js';
export { exportCsv, type ExportCsvOptions, type ExportCsvResult } from './export-csv.js';
export { underReadLease } from './read-lease.js';
export {
  attributeOf,
  isCognitoOwnedAttribute,
  isExternalProvider,
  loginOf,
} from './user-record.js';
