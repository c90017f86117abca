// `weft-controller <component> [args]`: one entry point for every control-plane service in the
// controller image. Each component lives in operator/<component>/main.ts and exports
// `run(argv: string[]): Promise<void>`; it is loaded only when asked for.

export class UnknownComponentError extends Error {
  readonly code = "WEFT_ERR_UNKNOWN_COMPONENT";

  constructor(readonly component: string) {
    super(
      `unknown component "${component}"; usage: weft-controller <identity|destination|prometheus|tap|api|web|heartbeat> [args]`,
    );
    this.name = "UnknownComponentError";
  }
}

interface ComponentModule {
  run(argv: string[]): Promise<void>;
}

export type Loader = (component: string) => Promise<ComponentModule>;

/** esbuild bundles every operator/<name>/main.ts this pattern matches. */
export const loadComponent: Loader = async (component) => {
  if (!/^[a-z][a-z-]*$/.test(component)) throw new UnknownComponentError(component);
  try {
    return (await import(`./${component}/main.ts`)) as ComponentModule;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (
      code === "MODULE_NOT_FOUND" ||
      code === "ERR_MODULE_NOT_FOUND" ||
      /Could not resolve|Cannot find/.test(String(err))
    ) {
      throw new UnknownComponentError(component);
    }
    throw err;
  }
};

export async function main(argv: string[], load: Loader = loadComponent): Promise<void> {
  const [component, ...rest] = argv;
  if (!component) throw new UnknownComponentError("");
  const mod = await load(component);
  if (typeof mod.run !== "function") throw new UnknownComponentError(component);
  await mod.run(rest);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    const e = err as { code?: string; message?: string };
    process.stderr.write(
      `weft-controller: ${e.code ?? "WEFT_ERR_COMPONENT"}: ${e.message ?? String(err)}\n`,
    );
    process.exit(1);
  });
}
