import { expect } from "chai";
import { HpackDecoder, HpackEncoder, HpackError, type HeaderList } from "./hpack";
import {
  EOS,
  HUFFMAN_CODES,
  HUFFMAN_LENGTHS,
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
} from "./huffman";

/** Hex as printed in RFC 7541 Appendix C (spaces and line breaks ignored). */
function hex(dump: string): Buffer {
  return Buffer.from(dump.replace(/\s+/g, ""), "hex");
}

/** Decodes each block in turn on one decoder, checking the list and the table size after it. */
function expectBlocks(
  decoder: HpackDecoder,
  steps: { block: string; headers: HeaderList; tableSize: number }[],
): void {
  for (const step of steps) {
    expect(decoder.decode(hex(step.block))).to.deep.equal(step.headers);
    expect(decoder.dynamicTableSize).to.equal(step.tableSize);
  }
}

const REQUEST_1 = [":method", "GET", ":scheme", "http", ":path", "/"];
const AUTHORITY = [":authority", "www.example.com"];
const REQUEST_2 = [...REQUEST_1, ...AUTHORITY, "cache-control", "no-cache"];
const REQUEST_3 = [
  ":method",
  "GET",
  ":scheme",
  "https",
  ":path",
  "/index.html",
  ...AUTHORITY,
  "custom-key",
  "custom-value",
];

const RESPONSE_1 = [
  ":status",
  "302",
  "cache-control",
  "private",
  "date",
  "Mon, 21 Oct 2013 20:13:21 GMT",
  "location",
  "https://www.example.com",
];
const RESPONSE_2 = [":status", "307", ...RESPONSE_1.slice(2)];
const RESPONSE_3 = [
  ":status",
  "200",
  "cache-control",
  "private",
  "date",
  "Mon, 21 Oct 2013 20:13:22 GMT",
  "location",
  "https://www.example.com",
  "content-encoding",
  "gzip",
  "set-cookie",
  "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
];

describe("HPACK Huffman code", () => {
  it("is a complete canonical prefix code with EOS as the all-ones 30-bit code", () => {
    // Canonical: sorted by (length, symbol), each code is the previous one plus one, shifted.
    const symbols = [...Array(EOS + 1).keys()].sort(
      (a, b) => HUFFMAN_LENGTHS[a] - HUFFMAN_LENGTHS[b] || a - b,
    );
    let code = 0;
    for (let i = 1; i < symbols.length; i++) {
      code = (code + 1) * 2 ** (HUFFMAN_LENGTHS[symbols[i]] - HUFFMAN_LENGTHS[symbols[i - 1]]);
      expect(HUFFMAN_CODES[symbols[i]], `symbol ${symbols[i]}`).to.equal(code);
    }
    const kraft = HUFFMAN_LENGTHS.reduce((sum, length) => sum + 2 ** -length, 0);
    expect(kraft).to.equal(1);
    expect(HUFFMAN_CODES[EOS]).to.equal(0x3fffffff);
    expect(HUFFMAN_LENGTHS[EOS]).to.equal(30);
  });

  it("round-trips every octet value", () => {
    let all = "";
    for (let octet = 0; octet < 256; octet++) all += String.fromCharCode(octet, 255 - octet);
    const out = Buffer.alloc(huffmanEncodedLength(all));
    expect(huffmanEncode(all, out, 0)).to.equal(out.length);
    expect(huffmanDecode(out, 0, out.length)).to.equal(all);
  });

  it("encodes the RFC 7541 C.4.1 authority exactly", () => {
    const out = Buffer.alloc(12);
    expect(huffmanEncode("www.example.com", out, 0)).to.equal(12);
    expect(out).to.deep.equal(hex("f1e3 c2e5 f23a 6ba0 ab90 f4ff"));
  });
});

describe("HPACK decoder: RFC 7541 Appendix C", () => {
  it("C.2.1 literal with indexing", () => {
    const decoder = new HpackDecoder();
    expectBlocks(decoder, [
      {
        block: "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
        headers: ["custom-key", "custom-header"],
        tableSize: 55,
      },
    ]);
  });

  it("C.2.2 literal without indexing", () => {
    const decoder = new HpackDecoder();
    expectBlocks(decoder, [
      {
        block: "040c 2f73 616d 706c 652f 7061 7468",
        headers: [":path", "/sample/path"],
        tableSize: 0,
      },
    ]);
  });

  it("C.2.3 literal never indexed", () => {
    const decoder = new HpackDecoder();
    expectBlocks(decoder, [
      {
        block: "1008 7061 7373 776f 7264 0673 6563 7265 74",
        headers: ["password", "secret"],
        tableSize: 0,
      },
    ]);
  });

  it("C.2.4 indexed field", () => {
    expectBlocks(new HpackDecoder(), [{ block: "82", headers: [":method", "GET"], tableSize: 0 }]);
    // A plain Uint8Array (not a Buffer) works as well.
    expect(new HpackDecoder().decode(new Uint8Array([0x82]))).to.deep.equal([":method", "GET"]);
  });

  it("C.3 requests without Huffman", () => {
    const decoder = new HpackDecoder();
    expectBlocks(decoder, [
      {
        block: "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        headers: [...REQUEST_1, ...AUTHORITY],
        tableSize: 57,
      },
      { block: "8286 84be 5808 6e6f 2d63 6163 6865", headers: REQUEST_2, tableSize: 110 },
      {
        block: "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        headers: REQUEST_3,
        tableSize: 164,
      },
    ]);
    expect(decoder.dynamicTableLength).to.equal(3);
  });

  it("C.4 requests with Huffman", () => {
    const decoder = new HpackDecoder();
    expectBlocks(decoder, [
      {
        block: "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        headers: [...REQUEST_1, ...AUTHORITY],
        tableSize: 57,
      },
      { block: "8286 84be 5886 a8eb 1064 9cbf", headers: REQUEST_2, tableSize: 110 },
      {
        block: "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        headers: REQUEST_3,
        tableSize: 164,
      },
    ]);
  });

  it("C.5 responses without Huffman, evicting at table size 256", () => {
    const decoder = new HpackDecoder(256);
    expectBlocks(decoder, [
      {
        block: `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
          2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
          6c65 2e63 6f6d`,
        headers: RESPONSE_1,
        tableSize: 222,
      },
      { block: "4803 3330 37c1 c0bf", headers: RESPONSE_2, tableSize: 222 },
      {
        block: `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
          54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
          5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
          3d31`,
        headers: RESPONSE_3,
        tableSize: 215,
      },
    ]);
    expect(decoder.dynamicTableLength).to.equal(3);
  });

  it("C.6 responses with Huffman, evicting at table size 256", () => {
    const decoder = new HpackDecoder(256);
    expectBlocks(decoder, [
      {
        block: `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
          2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
        headers: RESPONSE_1,
        tableSize: 222,
      },
      { block: "4883 640e ffc1 c0bf", headers: RESPONSE_2, tableSize: 222 },
      {
        block: `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
          77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
          9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
        headers: RESPONSE_3,
        tableSize: 215,
      },
    ]);
  });
});

/** A typical proxied request head; `path` varies per request. */
function requestHead(path: string): string[] {
  return [
    ":method",
    "GET",
    ":scheme",
    "http",
    ":path",
    path,
    ":authority",
    "localhost:8080",
    "user-agent",
    "h2load nghttp2/1.52.0",
  ];
}

/** A small deterministic PRNG (mulberry32) so that the long run is reproducible. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomList(random: () => number): string[] {
  const list: string[] = [":method", random() < 0.5 ? "GET" : "POST", ":path", "/"];
  const count = 1 + Math.floor(random() * 8);
  for (let i = 0; i < count; i++) {
    const name = `x-field-${Math.floor(random() * 12)}`;
    const length = Math.floor(random() * random() * 900);
    let value = "";
    for (let j = 0; j < length; j++) value += String.fromCharCode(32 + Math.floor(random() * 224));
    list.push(name, random() < 0.3 ? `v${Math.floor(random() * 4)}` : value);
  }
  return list;
}

describe("HPACK encoder → decoder", () => {
  it("encodes a repeated request head in a few octets, without Huffman work", () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    const first = encoder.encode(requestHead("/12"));
    const second = encoder.encode(requestHead("/12"));
    expect(decoder.decode(first)).to.deep.equal(requestHead("/12"));
    expect(decoder.decode(second)).to.deep.equal(requestHead("/12"));
    expect(second.length).to.be.at.most(10);
    expect(second.length).to.be.below(first.length);
  });

  it("produces the RFC 7541 C.4 blocks octet for octet", () => {
    const encoder = new HpackEncoder();
    const expected = [
      "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
      "8286 84be 5886 a8eb 1064 9cbf",
      "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    ];
    const lists = [[...REQUEST_1, ...AUTHORITY], REQUEST_2, REQUEST_3];
    lists.forEach((list, i) => expect(encoder.encode(list)).to.deep.equal(hex(expected[i])));
    expect(encoder.dynamicTableSize).to.equal(164);
  });

  it("round-trips the RFC 7541 C.3 requests", () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    for (const list of [[...REQUEST_1, ...AUTHORITY], REQUEST_2, REQUEST_3]) {
      expect(decoder.decode(encoder.encode(list))).to.deep.equal(list);
      expect(decoder.dynamicTableSize).to.equal(encoder.dynamicTableSize);
    }
  });

  it("does not let later blocks overwrite a returned block", () => {
    const encoder = new HpackEncoder();
    const first = encoder.encode(["x-a", "1"]);
    const copy = Buffer.from(first);
    encoder.encode(["x-b", "2".repeat(3000)]);
    expect(first).to.deep.equal(copy);
  });

  it("sends credentials, set-cookie and short cookies never indexed", () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    const sensitive = [
      ["authorization", "Bearer abc"],
      ["proxy-authorization", "Basic Zm9vOmJhcg=="],
      ["set-cookie", "id=1"],
      ["cookie", "sid=short"],
    ];
    for (const [name, value] of sensitive) {
      const block = encoder.encode([name, value]);
      expect(block[0] & 0xf0, name).to.equal(0x10);
      expect(decoder.decode(block)).to.deep.equal([name, value]);
    }
    expect(encoder.dynamicTableSize).to.equal(0);
    const longCookie = "session=0123456789abcdef0123";
    expect(encoder.encode(["cookie", longCookie])[0] & 0xc0).to.equal(0x40);
  });

  it("sends values over 512 octets without indexing", () => {
    const encoder = new HpackEncoder();
    const block = encoder.encode(["x-big", "a".repeat(513)]);
    expect(block[0] & 0xf0).to.equal(0x00);
    expect(encoder.dynamicTableSize).to.equal(0);
    expect(new HpackDecoder().decode(block)).to.deep.equal(["x-big", "a".repeat(513)]);
  });

  it("announces the peer's table size at the start of the next block", () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    decoder.decode(encoder.encode(requestHead("/a")));
    encoder.setPeerTableSize(100);
    const block = encoder.encode(requestHead("/b"));
    expect(block[0] & 0xe0).to.equal(0x20);
    expect(decoder.decode(block)).to.deep.equal(requestHead("/b"));
    expect(decoder.dynamicTableSize).to.equal(encoder.dynamicTableSize);
    expect(decoder.dynamicTableSize).to.be.at.most(100);
  });

  it("announces the smallest size and then the final one when both changed", () => {
    const encoder = new HpackEncoder();
    encoder.setPeerTableSize(0);
    encoder.setPeerTableSize(8192);
    const block = encoder.encode([":method", "GET"]);
    // 0, then min(4096, 8192) = 4096 on a 5-bit prefix, then the indexed :method GET.
    expect(block).to.deep.equal(Buffer.from([0x20, 0x3f, 0xe1, 0x1f, 0x82]));
    expect(new HpackDecoder().decode(block)).to.deep.equal([":method", "GET"]);
  });

  it("round-trips octets 0x80-0xff", () => {
    let value = "";
    for (let octet = 0x80; octet <= 0xff; octet++) value += String.fromCharCode(octet);
    const list = ["x-binary", value, "x-short", "\u00e9t\u00e9"];
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    expect(decoder.decode(encoder.encode(list))).to.deep.equal(list);
    expect(decoder.decode(encoder.encode(list))).to.deep.equal(list);
  });

  it("keeps encoder and decoder tables in step over 500 lists with evictions", () => {
    const random = seededRandom(7541);
    const encoder = new HpackEncoder(1024);
    const decoder = new HpackDecoder(1024, 1 << 20);
    for (let i = 0; i < 500; i++) {
      if (i === 250) encoder.setPeerTableSize(300);
      const list = randomList(random);
      expect(decoder.decode(encoder.encode(list)), `list ${i}`).to.deep.equal(list);
      expect(decoder.dynamicTableSize).to.equal(encoder.dynamicTableSize);
      expect(decoder.dynamicTableLength).to.equal(encoder.dynamicTableLength);
    }
  });
});

describe("HPACK decoder rejects malformed blocks", () => {
  const rejects = (block: string, decoder = new HpackDecoder()) =>
    expect(() => decoder.decode(hex(block))).to.throw(HpackError);

  it("index 0 and indexes beyond both tables", () => {
    rejects("80");
    rejects("be"); // 62 with an empty dynamic table
    rejects("7e 01 61"); // literal with name index 62
    rejects("0f 30 01 61"); // without indexing, name index 15 + 48 = 63
  });

  it("overlong and truncated integers", () => {
    rejects("ff ff ff ff ff ff 0f");
    rejects("ff 80 80 80 80 80 80 00");
    rejects("ff");
    rejects("ff 80");
  });

  it("invalid Huffman: EOS, padding over 7 bits, padding that is not all ones", () => {
    rejects("00 01 61 84 ff ff ff fc"); // value is exactly EOS padded with ones
    rejects("00 01 61 82 1f ff"); // 'a' (00011) then 11 padding bits
    rejects("00 01 61 81 18"); // 'a' then padding 000
    expect(() => huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4)).to.throw(HpackError);
  });

  it("truncated strings", () => {
    rejects("00 05 61 62");
    rejects("40 01 61 05 61");
    rejects("40");
    rejects("04");
  });

  it("table size updates above the limit or after a field", () => {
    rejects("3f e2 1f"); // 4097
    rejects("82 20");
    rejects("3f a2 01", new HpackDecoder(100)); // 193
    expect(new HpackDecoder().decode(hex("20 3f e1 1f 82"))).to.deep.equal([":method", "GET"]);
  });

  it("a list larger than maxListSize", () => {
    const decoder = new HpackDecoder(4096, 100);
    expect(decoder.decode(hex("82 86"))).to.have.length(4); // 42 + 43 octets
    rejects("82 86 84", decoder);
  });
});
