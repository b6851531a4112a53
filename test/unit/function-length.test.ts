import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Issue 19's criterion, enforced: no function in src over ~150 lines except declarative tables.
 * Every function-like node (declaration, method, constructor, accessor, arrow, function
 * expression) is measured from its first to its last line with the TypeScript compiler's own
 * parser. A long function must be split into named steps, or be listed below with its reason;
 * an entry that is no longer long fails too, so the list only shrinks.
 */
const LIMIT = 150;

/** `file:function` → why it may stay long (for now). */
const ALLOWED: Record<string, string> = {};

interface Long {
  key: string;
  lines: number;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(c|m)?tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function ownName(n: ts.Node, sf: ts.SourceFile): string | undefined {
  if (ts.isConstructorDeclaration(n)) return 'constructor';
  const named = n as ts.Node & { name?: ts.Node };
  if (named.name) return named.name.getText(sf);
  const p = n.parent;
  if (
    (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) &&
    p.initializer === n
  )
    return p.name.getText(sf);
  // A callback: named by the method it is passed to (`.action(async () => …)` → `action`).
  if (ts.isCallExpression(p)) {
    const callee = p.expression;
    if (ts.isPropertyAccessExpression(callee)) return callee.name.text;
    if (ts.isIdentifier(callee)) return callee.text;
  }
  return undefined;
}

/** Functions of one source text longer than `limit` lines, as `function` or `outer>inner`. */
export function longFunctions(file: string, text: string, limit = LIMIT): Long[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: Long[] = [];
  const visit = (n: ts.Node, outer: string[]): void => {
    let chain = outer;
    if (ts.isClassLike(n)) chain = [...outer, n.name?.text ?? '(class)'];
    if (ts.isFunctionLike(n) && (n as { body?: ts.Node }).body) {
      chain = [...outer, ownName(n, sf) ?? '(anonymous)'];
      const start = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(n.getEnd()).line;
      const lines = end - start + 1;
      if (lines > limit) out.push({ key: `${file}:${chain.join('>')}`, lines });
    }
    ts.forEachChild(n, (c) => visit(c, chain));
  };
  visit(sf, []);
  return out;
}

describe('function length (issue 19)', () => {
  it('the measure finds long functions, arrows and callbacks, and names them', () => {
    const body = (n: number): string =>
      Array.from({ length: n }, (_, i) => `  f(${i});`).join('\n');
    const text = [
      `export function big() {\n${body(160)}\n}`,
      `function small() {\n${body(10)}\n}`,
      `const arrow = async () => {\n${body(151)}\n};`,
      `class C {\n  method() {\n${body(200)}\n  }\n}`,
      `program.command('x').action(async () => {\n${body(148)}\n});`,
      `function outer() {\n  return [1].map(() => {\n${body(170)}\n  });\n}`,
    ].join('\n');
    const found = longFunctions('x.ts', text).map((l) => `${l.key} ${l.lines}`);
    expect(found).toEqual([
      'x.ts:big 162',
      'x.ts:arrow 153',
      'x.ts:C>method 202',
      'x.ts:outer 174',
      'x.ts:outer>map 172',
    ]);
  });

  it(`no function in src exceeds ${LIMIT} lines unless allow-listed with a reason`, () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const long = sourceFiles(path.join(root, 'src')).flatMap((f) =>
      longFunctions(path.relative(root, f).split(path.sep).join('/'), readFileSync(f, 'utf8')),
    );
    const unexpected = long.filter((l) => !(l.key in ALLOWED)).map((l) => `${l.key} (${l.lines})`);
    expect(unexpected, 'split these into named steps').toEqual([]);
    const found = new Set(long.map((l) => l.key));
    const stale = Object.keys(ALLOWED).filter((k) => !found.has(k));
    expect(stale, 'no longer over the limit (or renamed): remove from ALLOWED').toEqual([]);
  });
});
