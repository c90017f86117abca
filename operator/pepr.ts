// The Weft operator as a Pepr module: `pepr build` and `pepr dev` start here (via hack/pepr.sh,
// which stages this entry next to the package.json Pepr expects).

import { PeprModule } from "pepr";
import cfg from "../package.json";
import { Weft } from "./capabilities/operator";

new PeprModule(cfg, [Weft]);
