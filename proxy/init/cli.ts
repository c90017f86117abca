import { commandLine, execRunner, readNat, runAll, toolsFor, type Runner } from "./apply";
import { InitIptablesError, InitUsageError } from "./errors";
import { parseOptions, usage, type InitOptions } from "./options";
import {
  appendArgs,
  cleanupCommands,
  emptyNatState,
  installCommands,
  JUMPS,
  OUTPUT_CHAIN,
  REDIRECT_CHAIN,
  type Family,
  type NatState,
} from "./rules";
import { parseNatSave } from "./save";

export interface InitIo {
  env: NodeJS.ProcessEnv;
  out: (line: string) => void;
  err: (line: string) => void;
  run: Runner;
}

/** `weft-proxy init --simulate | head` closes our stdout early; that is not an error. */
function ignoreEpipe(stream: NodeJS.WriteStream): NodeJS.WriteStream {
  if (stream.listenerCount("error") === 0) {
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE") throw e;
    });
  }
  return stream;
}

const defaultIo = (): InitIo => ({
  env: process.env,
  out: (l) => ignoreEpipe(process.stdout).write(l + "\n"),
  err: (l) => process.stderr.write(l + "\n"),
  run: execRunner,
});

const families = (opts: InitOptions): Family[] => (opts.ipv6 ? [4, 6] : [4]);

/** What --simulate --cleanup assumes: our chains and jumps are installed. */
function installedState(): NatState {
  const state = emptyNatState();
  state.chains.add(REDIRECT_CHAIN).add(OUTPUT_CHAIN);
  state.rules = JUMPS.map(appendArgs);
  return state;
}

function plan(opts: InitOptions, family: Family, state: NatState): string[][] {
  return opts.cleanup ? cleanupCommands(state) : installCommands(opts, family, state);
}

function simulate(opts: InitOptions, io: InitIo): void {
  for (const family of families(opts)) {
    const tools = toolsFor(family, opts.iptablesMode);
    const state = opts.cleanup ? installedState() : emptyNatState();
    for (const args of plan(opts, family, state)) io.out(commandLine(tools.iptables, args));
  }
}

async function apply(opts: InitOptions, io: InitIo): Promise<void> {
  for (const family of families(opts)) {
    const tools = toolsFor(family, opts.iptablesMode);
    const state = parseNatSave(await readNat(io.run, tools));
    await runAll(io.run, tools, plan(opts, family, state), io.out);
    io.out(`# ${tools.save} -t nat after ${opts.cleanup ? "cleanup" : "install"}:`);
    io.out((await readNat(io.run, tools)).trimEnd());
  }
}

function stripSubcommand(argv: string[]): string[] {
  return argv[0] === "init" ? argv.slice(1) : argv;
}

/** `weft-proxy init [flags]`: 0 on success, 1 when iptables fails, 2 on bad usage. */
export async function runInit(argv: string[], io: InitIo = defaultIo()): Promise<number> {
  try {
    const opts = parseOptions(stripSubcommand(argv), io.env);
    if (opts.help) io.out(usage());
    else if (opts.simulate) simulate(opts, io);
    else await apply(opts, io);
    return 0;
  } catch (err) {
    if (err instanceof InitUsageError) {
      io.err(err.message);
      return 2;
    }
    if (err instanceof InitIptablesError) {
      io.err(err.message);
      return 1;
    }
    throw err;
  }
}
