// The tap/control port (4190). The tap server (observability issue) implements ControlServer;
// until then the port is reserved and connections to it are closed at once.

import type { Socket } from "node:net";

export interface ControlServer {
  handleConnection(socket: Socket): void;
}

export const reservedControlServer: ControlServer = {
  handleConnection(socket: Socket): void {
    socket.destroy();
  },
};
