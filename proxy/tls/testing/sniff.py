# Captures the TCP payloads to or from one port on the loopback interface (AF_PACKET, needs
# CAP_NET_RAW) for a given number of seconds, and prints them as hex. Test support only.
import socket
import struct
import sys
import time

port = int(sys.argv[1])
seconds = float(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
s.bind(("lo", 0))
s.settimeout(0.05)
print("ready", flush=True)
end = time.time() + seconds
out = bytearray()
while time.time() < end:
    try:
        pkt = s.recv(65535)
    except socket.timeout:
        continue
    if len(pkt) < 34 or pkt[12:14] != b"\x08\x00":
        continue
    ip = pkt[14:]
    ihl = (ip[0] & 15) * 4
    if ip[9] != 6:
        continue
    tcp = ip[ihl:]
    sport, dport = struct.unpack("!HH", tcp[:4])
    if port not in (sport, dport):
        continue
    out += tcp[(tcp[12] >> 4) * 4 :]
sys.stdout.write(out.hex() + "\n")
