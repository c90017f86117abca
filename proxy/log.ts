// A levelled logger whose level can change at run time (PUT /proxy-log-level). Hot paths check
// the boolean fields (`log.debugOn`) before building a message, so an idle level costs nothing.

import { parseLogLevel, type LogFormat, type LogLevel } from "./config";

const RANK: Readonly<Record<LogLevel, number>> = {
  off: 0,
  error: 1,
  warn: 2,
  info: 3,
  debug: 4,
  trace: 5,
};

export type Sink = (line: string) => void;

export class Logger {
  level: LogLevel = "warn";
  warnOn = true;
  infoOn = false;
  debugOn = false;
  traceOn = false;

  constructor(
    level: LogLevel,
    private readonly format: LogFormat = "plain",
    private readonly sink: Sink = (line) => process.stderr.write(line + "\n"),
  ) {
    this.setLevel(level);
  }

  /** Accepts the same forms as WEFT_PROXY_LOG; returns false (and keeps the level) when invalid. */
  setLevelText(text: string): boolean {
    const level = parseLogLevel(text);
    if (level === undefined) return false;
    this.setLevel(level);
    return true;
  }

  setLevel(level: LogLevel): void {
    this.level = level;
    const rank = RANK[level];
    this.warnOn = rank >= RANK.warn;
    this.infoOn = rank >= RANK.info;
    this.debugOn = rank >= RANK.debug;
    this.traceOn = rank >= RANK.trace;
  }

  error(msg: string, fields?: Record<string, unknown>): void {
    if (RANK[this.level] >= RANK.error) this.write("error", msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    if (this.warnOn) this.write("warn", msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    if (this.infoOn) this.write("info", msg, fields);
  }
  debug(msg: string, fields?: Record<string, unknown>): void {
    if (this.debugOn) this.write("debug", msg, fields);
  }

  private write(level: string, msg: string, fields: Record<string, unknown> | undefined): void {
    const time = new Date().toISOString();
    if (this.format === "json") {
      this.sink(JSON.stringify({ time, level, msg, ...fields }));
      return;
    }
    const extra = fields ? Object.entries(fields).map(([k, v]) => ` ${k}=${String(v)}`) : [];
    this.sink(`${time} ${level.toUpperCase().padEnd(5)} ${msg}${extra.join("")}`);
  }
}
