import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

/**
 * A guard against requests real Cognito would reject but the emulator accepts: every request's
 * input is checked against Cognito's own API model (botocore's `cognito-idp` service-2.json,
 * installed wherever moto is) — unknown members, required members, types, enum values,
 * lengths, numeric ranges and string patterns, recursively.
 *
 * Violations name the operation, the member path and the rule, never a value (requests carry
 * usernames, attributes and secrets).
 */

export interface Violation {
  operation: string;
  /** Member path, e.g. `Policies.PasswordPolicy.MinimumLength`, `UserAttributes[3].Name`. */
  path: string;
  /** The rule that failed, e.g. `required`, `unknown member`, `length 1..128`, `pattern`. */
  rule: string;
}

export function formatViolation(v: Violation): string {
  return `${v.operation}: ${v.path || '(input)'}: ${v.rule}`;
}

interface ShapeRef {
  shape: string;
}

interface Shape {
  type: string;
  members?: Record<string, ShapeRef>;
  required?: string[];
  member?: ShapeRef;
  key?: ShapeRef;
  value?: ShapeRef;
  enum?: string[];
  min?: number;
  max?: number;
  pattern?: string;
  document?: boolean;
}

interface ServiceModel {
  metadata: { targetPrefix: string; endpointPrefix: string; apiVersion: string };
  operations: Record<string, { input?: ShapeRef }>;
  shapes: Record<string, Shape>;
}

const MODEL_PATH = ['data', 'cognito-idp', '2016-04-18'];

/**
 * Where botocore's Cognito model is: COGNITO_VAULT_BOTOCORE_MODEL (a service-2.json or .json.gz)
 * or the botocore package that `python3` (PYTHON overrides) imports — the one moto runs on.
 * Throws, naming what was tried, when neither exists: a guard that silently did not run would
 * let every request through.
 */
export function locateCognitoModel(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.COGNITO_VAULT_BOTOCORE_MODEL;
  if (explicit) {
    if (!existsSync(explicit))
      throw new Error(`COGNITO_VAULT_BOTOCORE_MODEL names a missing file: ${explicit}`);
    return explicit;
  }
  const python = env.PYTHON ?? 'python3';
  let dir: string;
  try {
    dir = execFileSync(
      python,
      ['-c', 'import botocore, os; print(os.path.dirname(botocore.__file__))'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 },
    ).trim();
  } catch (e) {
    throw new Error(
      `cannot find botocore's Cognito model: \`${python} -c "import botocore"\` failed (${(e as Error).message.split('\n')[0]}); install moto (it brings botocore) or set COGNITO_VAULT_BOTOCORE_MODEL`,
    );
  }
  for (const name of ['service-2.json', 'service-2.json.gz']) {
    const file = path.join(dir, ...MODEL_PATH, name);
    if (existsSync(file)) return file;
  }
  throw new Error(
    `botocore at ${dir} has no ${MODEL_PATH.join('/')}/service-2.json(.gz); set COGNITO_VAULT_BOTOCORE_MODEL`,
  );
}

export function loadModel(file: string): ServiceModel {
  const raw = readFileSync(file);
  const text = file.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  const model = JSON.parse(text) as ServiceModel;
  if (!model.operations || !model.shapes || !model.metadata?.targetPrefix) {
    throw new Error(`${file} is not a botocore service model`);
  }
  return model;
}

// ---- patterns ------------------------------------------------------------------------------

/** Java's `\s` (without UNICODE_CHARACTER_CLASS): ASCII whitespace only; JavaScript's is wider. */
const JAVA_SPACE = '\\t\\n\\x0B\\f\\r ';

/**
 * Translates one of the model's patterns (java.util.regex syntax; AWS matches the whole value)
 * into a JavaScript RegExp with the `u` flag (for `\p{L}` and friends), anchored.
 *
 * Differences handled: `(?s)` becomes the `s` flag; `\s`/`\S` are Java's ASCII whitespace (in and
 * out of character classes); a bare `-` escaped outside a class is unescaped (a syntax error
 * under `u`). Known residual difference: Java's `.` also refuses U+0085 (NEXT LINE), JavaScript's
 * does not — only `(?s).*` and `.*\{####\}.*` use `.`, the first with DOTALL, so only the second
 * could differ, on a value containing U+0085. Throws on syntax it does not know (the unit test
 * compiles every pattern in the model, so a new construct fails the build, not the guard).
 */
export function translatePattern(javaPattern: string): RegExp {
  let src = javaPattern;
  let flags = 'u';
  if (src.startsWith('(?s)')) {
    src = src.slice(4);
    flags += 's';
  }
  if (/\(\?[a-z]/i.test(src.replace(/\(\?(?:<[!=]|[:=!])/g, ''))) {
    throw new Error(`unsupported inline flag in pattern ${javaPattern}`);
  }
  if (/\\[pP]\{(?:Is|In|java)/.test(src) || /\\[QEGZzAhHvVR]/.test(src) || /&&/.test(src)) {
    throw new Error(`unsupported construct in pattern ${javaPattern}`);
  }
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i] as string;
    if (c === '\\') {
      const n = src[i + 1] ?? '';
      i++;
      if (n === 's') out += inClass ? JAVA_SPACE : `[${JAVA_SPACE}]`;
      else if (n === 'S') {
        if (inClass) {
          // `[\S]` alone is the only form in the model; anything richer needs real set algebra.
          if (src[i - 2] === '[' && src[i + 1] === ']') {
            out = out.slice(0, -1) + `[^${JAVA_SPACE}`;
          } else {
            throw new Error(`unsupported \\S inside a character class in ${javaPattern}`);
          }
        } else out += `[^${JAVA_SPACE}]`;
      } else if (n === '-' && !inClass) out += '-';
      else out += `\\${n}`;
      continue;
    }
    if (c === '[') {
      if (inClass) throw new Error(`nested character class (Java union) in ${javaPattern}`);
      inClass = true;
    } else if (c === ']' && inClass) inClass = false;
    out += c;
  }
  return new RegExp(`^(?:${out})$`, flags);
}

// ---- validation ----------------------------------------------------------------------------

const codePoints = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

const describeType = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v;

export class RequestGuard {
  readonly targetPrefix: string;
  private readonly patterns = new Map<string, RegExp>();

  constructor(private readonly model: ServiceModel) {
    this.targetPrefix = model.metadata.targetPrefix;
    for (const [name, shape] of Object.entries(model.shapes)) {
      if (shape.pattern !== undefined) this.patterns.set(name, translatePattern(shape.pattern));
    }
  }

  /** Loads botocore's Cognito model (see locateCognitoModel); throws when it cannot. */
  static fromBotocore(env: NodeJS.ProcessEnv = process.env): RequestGuard {
    return new RequestGuard(loadModel(locateCognitoModel(env)));
  }

  get operations(): string[] {
    return Object.keys(this.model.operations);
  }

  /** Every pattern in the model, with its translation (for tests and documentation). */
  get patternCount(): number {
    return this.patterns.size;
  }

  /** The violations of one request; `[]` when the model accepts it. */
  validate(operation: string, input: unknown): Violation[] {
    const op = this.model.operations[operation];
    if (!op) return [{ operation, path: '', rule: 'unknown operation' }];
    const out: Violation[] = [];
    if (!op.input) {
      if (input !== undefined && input !== null && Object.keys(input as object).length > 0)
        out.push({ operation, path: '', rule: 'operation takes no input' });
      return out;
    }
    this.check(operation, op.input.shape, input ?? {}, '', out);
    return out;
  }

  private check(op: string, shapeName: string, v: unknown, at: string, out: Violation[]): void {
    const shape = this.model.shapes[shapeName];
    if (!shape) {
      out.push({ operation: op, path: at, rule: `model has no shape ${shapeName}` });
      return;
    }
    const bad = (rule: string): void => void out.push({ operation: op, path: at, rule });
    const range = (n: number, what: string): void => {
      if (shape.min !== undefined && n < shape.min)
        bad(`${what} ${n} < min ${shape.min} (${shapeName})`);
      if (shape.max !== undefined && n > shape.max)
        bad(`${what} ${n} > max ${shape.max} (${shapeName})`);
    };
    if (shape.document) return; // free-form JSON
    switch (shape.type) {
      case 'structure': {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) {
          bad(`type: expected structure, got ${describeType(v)}`);
          return;
        }
        const members = shape.members ?? {};
        const obj = v as Record<string, unknown>;
        for (const req of shape.required ?? []) {
          if (obj[req] === undefined || obj[req] === null) {
            out.push({ operation: op, path: join(at, req), rule: 'required member missing' });
          }
        }
        for (const [k, val] of Object.entries(obj)) {
          const ref = members[k];
          if (!ref) {
            // Member names come from code, but print only identifier-like ones (never data).
            const name = /^[A-Za-z][A-Za-z0-9]{0,63}$/.test(k) ? k : '(non-identifier key)';
            out.push({
              operation: op,
              path: join(at, name),
              rule: `unknown member of ${shapeName}`,
            });
            continue;
          }
          if (val === undefined || val === null) continue;
          this.check(op, ref.shape, val, join(at, k), out);
        }
        return;
      }
      case 'list': {
        if (!Array.isArray(v)) {
          bad(`type: expected list, got ${describeType(v)}`);
          return;
        }
        range(v.length, 'list length');
        v.forEach((item, i) => {
          if (item === null || item === undefined) {
            out.push({ operation: op, path: `${at}[${i}]`, rule: 'null list member' });
          } else this.check(op, shape.member!.shape, item, `${at}[${i}]`, out);
        });
        return;
      }
      case 'map': {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) {
          bad(`type: expected map, got ${describeType(v)}`);
          return;
        }
        const entries = Object.entries(v as Record<string, unknown>);
        range(entries.length, 'map size');
        for (const [k, val] of entries) {
          // Keys are values (attribute names, IdP detail names): the path says "key", not which.
          this.check(op, shape.key!.shape, k, `${at}{key}`, out);
          if (val === null || val === undefined) {
            out.push({ operation: op, path: `${at}{value}`, rule: 'null map value' });
          } else this.check(op, shape.value!.shape, val, `${at}{value}`, out);
        }
        return;
      }
      case 'string': {
        if (typeof v !== 'string') {
          bad(`type: expected string, got ${describeType(v)}`);
          return;
        }
        if (shape.enum && !shape.enum.includes(v)) {
          bad(`enum: not one of ${shapeName} (${shape.enum.length} values)`);
        }
        range(codePoints(v), 'length');
        const re = this.patterns.get(shapeName);
        if (re && !re.test(v)) bad(`pattern ${shape.pattern} (${shapeName})`);
        return;
      }
      case 'integer':
      case 'long': {
        if (typeof v !== 'number' || !Number.isInteger(v)) {
          bad(`type: expected ${shape.type}, got ${describeType(v)}`);
          return;
        }
        if (shape.type === 'integer' && (v > 2 ** 31 - 1 || v < -(2 ** 31))) {
          bad('type: outside the 32-bit integer range');
        }
        range(v, 'value');
        return;
      }
      case 'boolean':
        if (typeof v !== 'boolean') bad(`type: expected boolean, got ${describeType(v)}`);
        return;
      case 'timestamp':
        // JSON 1.1 sends epoch seconds (a number); ISO strings are not what the SDK sends.
        if (typeof v !== 'number' || !Number.isFinite(v))
          bad(`type: expected timestamp (epoch seconds), got ${describeType(v)}`);
        return;
      case 'blob': {
        if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) {
          bad('type: expected blob (base64 string)');
          return;
        }
        range(Buffer.from(v, 'base64').length, 'byte length');
        return;
      }
      case 'float':
      case 'double':
        if (typeof v !== 'number') bad(`type: expected number, got ${describeType(v)}`);
        else range(v, 'value');
        return;
      default:
        bad(`model shape type ${shape.type} is not checked`);
    }
  }
}

const join = (at: string, k: string): string => (at ? `${at}.${k}` : k);
