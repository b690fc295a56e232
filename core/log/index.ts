/**
 * Structured logging (pino). Lines go to stderr, or to the `--debug-log` file instead;
 * `--debug` logs at debug level, `--strace` at least at info (strace lines are info),
 * otherwise warnings and errors only. Format `json` writes pino's JSON lines; `text`
 * writes one readable line per record (formatText below).
 *
 * Every logger made by createLogger carries `sandboxId`; kernel code derives per-task
 * loggers with `log.child({ tid })`, so each kernel line names its sandbox and task.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LogFormat } from '../config/types';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** One logging method: `log.info({ tid: 3, fd: 4 }, 'opened %s', path)` or `log.info('text')`. */
export interface LogFn {
  (obj: object, msg?: string, ...args: unknown[]): void;
  (msg: string, ...args: unknown[]): void;
}

/** The logger the core hands out (a pino logger satisfies it). */
export interface Logger {
  level: string;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  /** A logger whose every line also carries `bindings` (e.g. `{ tid }`). */
  child(bindings: Record<string, unknown>): Logger;
  /** Whether a line at `level` would be written. */
  isLevelEnabled(level: string): boolean;
}

/** Anything with a write(string) method can receive log lines (tests pass an array collector). */
export interface LogSink {
  write(line: string): unknown;
}

export interface LoggerOptions {
  /** Sandbox (container) id put on every line. */
  sandboxId?: string;
  /** Debug level (else warn, or info with strace). */
  debug?: boolean;
  /** strace: lines of system calls are logged at info level, so info is enabled. */
  strace?: boolean;
  /** Explicit level; overrides debug/strace. */
  level?: LogLevel;
  /** Line format (default text). */
  format?: LogFormat;
  /** Append to this file instead of writing to stderr. Its folder is created if missing. */
  file?: string;
  /** Write to this sink instead of stderr/file (tests). */
  sink?: LogSink;
  /** Extra fields on every line. */
  bindings?: Record<string, unknown>;
}

/** The fields of the effective config a logger is made from. */
export interface LogConfig {
  debug: boolean;
  strace: boolean;
  debugLog: string | undefined;
  logFormat: LogFormat;
}

/** LoggerOptions from the config values (`config.values`) and a sandbox id. */
export function loggerOptions(values: LogConfig, sandboxId?: string): LoggerOptions {
  return {
    sandboxId,
    debug: values.debug,
    strace: values.strace,
    file: values.debugLog,
    format: values.logFormat,
  };
}

/** The level implied by the options. */
export function levelFor(opts: LoggerOptions): LogLevel {
  if (opts.level) return opts.level;
  if (opts.debug) return 'debug';
  if (opts.strace) return 'info';
  return 'warn';
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  // pino loads only when something logs, keeping `runsc --version` fast.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pino = require('pino') as typeof import('pino');
  const format = opts.format ?? 'text';
  let out: LogSink;
  if (opts.sink) {
    out = opts.sink;
  } else if (opts.file) {
    fs.mkdirSync(path.dirname(opts.file), { recursive: true });
    out = pino.destination({ dest: opts.file, sync: true, append: true });
  } else {
    out = pino.destination({ fd: 2, sync: true });
  }
  const stream = format === 'json' ? out : { write: (line: string) => out.write(formatText(line)) };
  const base: Record<string, unknown> = { pid: process.pid };
  if (opts.sandboxId !== undefined) base.sandboxId = opts.sandboxId;
  return pino.pino(
    {
      level: levelFor(opts),
      base: { ...base, ...opts.bindings },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label: string) => ({ level: label }) },
    },
    stream,
  ) as unknown as Logger;
}

const LEVEL_LETTER: Record<string, string> = {
  trace: 'T',
  debug: 'D',
  info: 'I',
  warn: 'W',
  error: 'E',
  fatal: 'F',
};

/** Fields shown in the fixed part of a text line, not repeated as key=value. */
const FIXED = new Set(['level', 'time', 'pid', 'hostname', 'sandboxId', 'tid', 'msg']);

function textValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'object' && v !== null) return JSON.stringify(v);
  return String(v);
}

/**
 * Turns one pino JSON line into a text line:
 * `W 2025-01-02T03:04:05.678Z 1234 [sandbox-id tid=7] message key=value ...`
 * (level letter, time, pid, sandbox and task, message, other fields). A line that is not
 * JSON passes through unchanged.
 */
export function formatText(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const parts: string[] = [
    LEVEL_LETTER[String(rec.level)] ?? String(rec.level),
    String(rec.time ?? new Date().toISOString()),
  ];
  if (rec.pid !== undefined) parts.push(String(rec.pid));
  const who: string[] = [];
  if (rec.sandboxId !== undefined) who.push(String(rec.sandboxId));
  if (rec.tid !== undefined) who.push(`tid=${String(rec.tid)}`);
  if (who.length) parts.push(`[${who.join(' ')}]`);
  if (rec.msg !== undefined) parts.push(String(rec.msg));
  for (const [k, v] of Object.entries(rec)) {
    if (FIXED.has(k)) continue;
    if (k === 'err' && typeof v === 'object' && v !== null && 'stack' in v) {
      parts.push(
        `err=${JSON.stringify((v as { message?: unknown }).message)}\n${String((v as { stack: unknown }).stack)}`,
      );
      continue;
    }
    parts.push(`${k}=${textValue(v)}`);
  }
  return parts.join(' ') + '\n';
}
