import assert from "node:assert/strict";
import { testBet } from "./_testing.ts";
import type { Bet } from "./bet.ts";
import { unpackBet } from "./packed_bets.ts";
import { agencyRowToBet, storeRowToBet } from "./_csv_reference.ts";
import {
  type AgencyBetRecord,
  AgencyRowsParser,
  betToAgencyRow,
  betToCsvRow,
  csvField,
  CsvFormatError,
  CsvRowError,
  readAgencyBets,
  readAgencyRecords,
  readStoreBets,
} from "./csv/mod.ts";

function bet(overrides: Partial<Bet> = {}): Bet {
  return testBet(overrides);
}

/** Bets whose names need every kind of quoting. */
const TRICKY: Bet[] = [
  bet(),
  bet({ firstName: "Pérez, Juan", lastName: 'Gómez "el Tano"' }),
  bet({ firstName: "Ana\nMaría", lastName: "D'Alessandro" }),
  bet({ firstName: '"', lastName: '""' }),
  bet({ firstName: "a,\r\n,b", lastName: "Ibáñez\r" }),
  bet({ firstName: "漢字 🎲", lastName: ",", number: 0 }),
];

async function withTempFile(
  text: string | Uint8Array,
  fn: (path: string) => Promise<void>,
): Promise<void> {
  const path = await Deno.makeTempFile({ suffix: ".csv" });
  try {
    if (typeof text === "string") await Deno.writeTextFile(path, text);
    else await Deno.writeFile(path, text);
    await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

async function collect<T>(iterator: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterator) items.push(item);
  return items;
}

/** Collects records until the reader throws; returns both. */
async function collectUntilError(
  iterator: AsyncIterable<AgencyBetRecord>,
): Promise<{ records: AgencyBetRecord[]; error: unknown }> {
  const records: AgencyBetRecord[] = [];
  try {
    for await (const record of iterator) records.push(record);
  } catch (error) {
    return { records, error };
  }
  return { records, error: undefined };
}

Deno.test("csvField() quotes only fields holding a comma, quote, CR or LF, doubling quotes", () => {
  assert.equal(csvField("Núñez D'Alessandro"), "Núñez D'Alessandro");
  assert.equal(csvField(""), "");
  assert.equal(csvField("Pérez, Juan"), '"Pérez, Juan"');
  assert.equal(csvField('el "Tano"'), '"el ""Tano"""');
  assert.equal(csvField("a\nb"), '"a\nb"');
  assert.equal(csvField("a\rb"), '"a\rb"');
});

Deno.test("betToCsvRow() writes agency,first_name,last_name,document,birthdate,number and LF", () => {
  assert.equal(betToCsvRow(bet()), "3,José María,Núñez,30904465,1999-03-17,7574\n");
  assert.equal(
    betToCsvRow(bet({ firstName: "Pérez, Juan", lastName: 'el "Tano"' })),
    '3,"Pérez, Juan","el ""Tano""",30904465,1999-03-17,7574\n',
  );
  assert.equal(betToAgencyRow(bet()), "José María,Núñez,30904465,1999-03-17,7574\n");
});

Deno.test("agencyRowToBet() parses the number strictly and fills in the agency", () => {
  assert.deepEqual(
    agencyRowToBet(["José María", "Núñez", "30904465", "1999-03-17", "0042"], 3),
    bet({ number: 42 }),
  );
  for (const text of ["12a", "", " 1", "1 ", "1.5", "-1", "+1", "1e3", "0x10", "١"]) {
    assert.throws(
      () => agencyRowToBet(["A", "B", "1", "1999-03-17", text], 1),
      (error: Error) =>
        error instanceof SyntaxError &&
        error.message.startsWith(`Invalid number: ${JSON.stringify(text)}`),
      text,
    );
  }
  assert.throws(() => agencyRowToBet(["A", "B", "1", "1999-03-17"], 1), {
    name: "SyntaxError",
    message: "Expected 5 fields, got 4",
  });
});

Deno.test("storeRowToBet() reverses betToCsvRow() field by field", () => {
  assert.deepEqual(
    storeRowToBet(["3", "José María", "Núñez", "30904465", "1999-03-17", "7574"]),
    bet(),
  );
  assert.throws(() => storeRowToBet(["x", "A", "B", "1", "1999-03-17", "1"]), {
    message: 'Invalid agency: "x" (expected digits only)',
  });
  assert.throws(() => storeRowToBet(["1", "A"]), { message: "Expected 6 fields, got 2" });
});

Deno.test("readAgencyBets() round-trips quoted fields for every chunk size, records spanning chunks", async () => {
  const text = TRICKY.map(betToAgencyRow).join("");
  await withTempFile(text, async (path) => {
    for (const chunkSize of [1, 2, 3, 5, 7, 11, 16, 64, 65_536]) {
      const records = await collect(readAgencyBets(path, { agency: 3, chunkSize }));
      assert.deepEqual(records.map((record) => record.bet), TRICKY, `chunkSize ${chunkSize}`);
      // Records 3 and 5 hold one and two newlines, so the later ones start further down.
      assert.deepEqual(
        records.map((record) => record.line),
        [1, 2, 3, 5, 6, 8],
        `chunkSize ${chunkSize}`,
      );
    }
  });
});

Deno.test("readAgencyBets() matches the input for seeded random files and chunk sizes", async () => {
  let state = 12345;
  function random(n: number): number {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  }
  const alphabet = ["a", "Ñ", "é", ",", '"', "\n", "\r\n", " ", "🎲", "'"];
  function name(): string {
    let text = "";
    const length = 1 + random(6);
    for (let i = 0; i < length; i++) text += alphabet[random(alphabet.length)];
    return text;
  }
  const bets = Array.from(
    { length: 300 },
    () => bet({ firstName: name(), lastName: name(), number: random(100_000) }),
  );
  await withTempFile(bets.map(betToAgencyRow).join(""), async (path) => {
    for (const chunkSize of [1, 3, 13, 100, 4096]) {
      const records = await collect(readAgencyBets(path, { agency: 3, chunkSize }));
      assert.deepEqual(records.map((record) => record.bet), bets, `chunkSize ${chunkSize}`);
    }
  });
});

Deno.test("readAgencyBets() accepts CRLF line ends, skips blank lines and counts lines right", async () => {
  const text =
    'Ana,Pérez,1,2000-01-01,1\r\n\r\n"Juan\r\nCarlos",Gómez,2,2000-01-01,2\r\n\nLuis,Díaz,3,2000-01-01,3';
  await withTempFile(text, async (path) => {
    for (const chunkSize of [1, 2, 4, 65_536]) {
      const records = await collect(readAgencyBets(path, { chunkSize }));
      assert.deepEqual(
        records.map(({ bet, line }) => [bet.firstName, bet.number, bet.agency, line]),
        [["Ana", 1, 0, 1], ["Juan\r\nCarlos", 2, 0, 3], ["Luis", 3, 0, 6]],
        `chunkSize ${chunkSize}`,
      );
    }
  });
});

Deno.test("readAgencyBets() accepts every field quoted with CRLF, whatever the chunk boundaries", async () => {
  const row = '"Ana","Pérez","1","2000-01-01","7"\r\n';
  await withTempFile(row.repeat(3), async (path) => {
    for (let chunkSize = 1; chunkSize <= row.length + 1; chunkSize++) {
      const records = await collect(readAgencyBets(path, { chunkSize }));
      assert.deepEqual(records.map(({ bet, line }) => [bet.lastName, bet.number, line]), [
        ["Pérez", 7, 1],
        ["Pérez", 7, 2],
        ["Pérez", 7, 3],
      ], `chunkSize ${chunkSize}`);
    }
  });
});

Deno.test("readAgencyBets() reports a missing file with its path", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const path = `${folder}/agency-9.csv`;
    const { records, error } = await collectUntilError(readAgencyBets(path));
    assert.equal(records.length, 0);
    assert.ok(error instanceof CsvFormatError);
    assert.equal(error.message, `${path}: File not found`);
    assert.equal(error.path, path);
    assert.equal(error.line, 0);
    assert.ok(error.cause instanceof Deno.errors.NotFound);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("readAgencyBets() names file and line of a bad record after yielding the ones before", async () => {
  const good = "Ana,Pérez,1,2000-01-01,1\n";
  const cases: [string, number, string][] = [
    [good + good + "Ana,Pérez,1,2000-01-01\n" + good, 2, "3: Expected 5 fields, got 4"],
    [
      good + "Ana,Pérez,1,2000-01-01,12a\n" + good,
      1,
      '2: Invalid number: "12a" (expected digits only)',
    ],
    [good + "Ana,Pérez,1,2000-01-01,\n", 1, '2: Invalid number: "" (expected 1-15 digits)'],
    [
      good + '"Ana"x,Pérez,1,2000-01-01,1\n' + good,
      1,
      '2: Bad quoting: a closing quote must be followed by ",", a line end or a doubled quote',
    ],
    [
      good + good + '"Ana,Pérez,1,2000-01-01,1\n' + good,
      2,
      "3: Bad quoting: a quoted field is never closed",
    ],
    [
      '"Ana\nMaría",Pérez,1,2000-01-01,1\n' + "Luis,Díaz\n",
      1,
      "3: Expected 5 fields, got 2",
    ],
  ];
  for (const [text, before, where] of cases) {
    await withTempFile(text, async (path) => {
      for (const chunkSize of [1, 5, 65_536]) {
        const { records, error } = await collectUntilError(readAgencyBets(path, { chunkSize }));
        assert.ok(error instanceof CsvFormatError, `${where} (chunkSize ${chunkSize}): ${error}`);
        assert.equal(error.name, "CsvFormatError");
        assert.equal(error.message, `${path}:${where}`, `chunkSize ${chunkSize}`);
        assert.equal(records.length, before, `${where} (chunkSize ${chunkSize})`);
      }
    });
  }
});

Deno.test("readAgencyBets() rejects invalid UTF-8 naming the file and line", async () => {
  const bytes = new Uint8Array([
    ...new TextEncoder().encode("Luis,Díaz,3,2000-01-01,3\nAna,P"),
    0xff,
    ...new TextEncoder().encode(",1,2000-01-01,1\n"),
  ]);
  await withTempFile(bytes, async (path) => {
    for (const chunkSize of [1, 65_536]) {
      const { records, error } = await collectUntilError(readAgencyBets(path, { chunkSize }));
      assert.ok(error instanceof CsvFormatError);
      assert.equal(error.message, `${path}:2: Invalid UTF-8 text`);
      assert.equal(records.length, 1, "the record before the bad byte is yielded");
    }
  });
});

Deno.test("readAgencyBets() gives up on a quote never closed instead of buffering the whole file", async () => {
  const text = '"Ana,Pérez,1,2000-01-01,1\n' + "Luis,Díaz,3,2000-01-01,3\n".repeat(60_000);
  await withTempFile(text, async (path) => {
    const { records, error } = await collectUntilError(readAgencyBets(path));
    assert.equal(records.length, 0);
    assert.ok(error instanceof CsvFormatError);
    assert.match(error.message, /:1: Record longer than 1048576 bytes/);
  });
});

Deno.test("readAgencyBets() closes its file when the loop breaks early (checked by --trace-leaks)", async () => {
  await withTempFile("Ana,Pérez,1,2000-01-01,1\n".repeat(10), async (path) => {
    let seen = 0;
    for await (const _ of readAgencyBets(path, { chunkSize: 16 })) {
      if (++seen === 2) break;
    }
    assert.equal(seen, 2);
    // An iterator never started opens nothing.
    readAgencyBets(path);
  });
});

Deno.test("readAgencyBets() streams: text changed after the first record is seen by the reader", async () => {
  const row = "Ana,Pérez,1,2000-01-01,1111\n";
  const rows = 20_000;
  await withTempFile(row.repeat(rows), async (path) => {
    const reader = readAgencyBets(path, { chunkSize: 4096 });
    const first = await reader.next();
    assert.equal(first.done, false);
    // Rewrite the last row in place (same length); a reader that had slurped the file would miss it.
    using file = await Deno.open(path, { write: true });
    const size = (await file.stat()).size;
    await file.seek(size - 5, Deno.SeekMode.Start);
    await file.write(new TextEncoder().encode("2222"));
    let last: AgencyBetRecord | undefined;
    let count = 1;
    for await (const record of reader) {
      last = record;
      count++;
    }
    assert.equal(count, rows);
    assert.equal(last?.bet.number, 2222);
    assert.equal(last?.line, rows);
  });
});

Deno.test("readStoreBets() reads store rows and stops at the byte limit", async () => {
  const text = TRICKY.map(betToCsvRow).join("");
  const firstTwo = new TextEncoder().encode(TRICKY.slice(0, 2).map(betToCsvRow).join("")).length;
  await withTempFile(text, async (path) => {
    assert.deepEqual(await collect(readStoreBets(path, { chunkSize: 3 })), TRICKY);
    assert.deepEqual(await collect(readStoreBets(path, { limit: firstTwo })), TRICKY.slice(0, 2));
  });
});

/** What `fn` throws (it must throw). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}

/** The records readAgencyRecords() finds: [line, the record's bytes as text]. */
async function recordsOf(path: string, chunkSize: number): Promise<[number, string][]> {
  const out: [number, string][] = [];
  const decoder = new TextDecoder();
  for await (const chunk of readAgencyRecords(path, { chunkSize })) {
    for (let i = 0; i < chunk.count; i++) {
      const text = decoder.decode(chunk.bytes.subarray(chunk.starts[i], chunk.ends[i]));
      out.push([chunk.lines[i], text]);
    }
  }
  return out;
}

Deno.test("readAgencyRecords() finds the records readAgencyBets() parses, with their lines, for every chunk size", async () => {
  const text = "\ufeff" + TRICKY.map(betToAgencyRow).join("") + "\r\n\nLuis,Díaz,3,2000-01-01,3";
  await withTempFile(text, async (path) => {
    const parsed = await collect(readAgencyBets(path, { agency: 3 }));
    for (const chunkSize of [1, 2, 3, 5, 7, 16, 64, 65_536]) {
      const records = await recordsOf(path, chunkSize);
      // The same records on the same lines; each one's bytes parse to the same bet.
      assert.deepEqual(records.map(([line]) => line), parsed.map((r) => r.line), `${chunkSize}`);
      const rows = new TextEncoder().encode(records.map(([, row]) => row).join(""));
      const again = new AgencyRowsParser().parse(rows.slice(), 3);
      assert.deepEqual(
        Array.from({ length: again.count }, (_, i) => unpackBet(again, i)),
        parsed.map((r) => r.bet),
        `chunkSize ${chunkSize}`,
      );
    }
    // The last record has no line end; blank lines and the byte order mark are not records.
    const records = await recordsOf(path, 65_536);
    assert.equal(records.at(-1)?.[1], "Luis,Díaz,3,2000-01-01,3");
    assert.ok(records.every(([, row]) => row.trim() !== "" && !row.startsWith("\ufeff")));
  });
});

Deno.test("readAgencyRecords() checks no field: a bad record is found, not judged", async () => {
  await withTempFile('a,b\nx,"y\n\xff,1,2,3,4\n', async (path) => {
    // Line 2 opens a quote never closed: the rest of the file is that record.
    assert.deepEqual(await recordsOf(path, 65_536), [[1, "a,b\n"], [2, 'x,"y\n\xff,1,2,3,4\n']]);
  });
  await withTempFile("", async (path) => assert.deepEqual(await recordsOf(path, 16), []));
  await assert.rejects(
    collect(readAgencyRecords("/nonexistent/agency-1.csv")),
    (error: unknown) =>
      error instanceof CsvFormatError &&
      error.message === "/nonexistent/agency-1.csv: File not found",
  );
});

Deno.test("AgencyRowsParser names the bad record and its line, as readAgencyBets() would", async () => {
  const parser = new AgencyRowsParser();
  const encode = (text: string) => new TextEncoder().encode(text);
  const cases: [string, number, number, string][] = [
    // rows, bad record (0-based), line in the rows, reason
    ["a,b,1,2000-01-01,1\nc,d,2,2000-01-01\n", 1, 2, "Expected 5 fields, got 4"],
    ['a,b,1,2000-01-01,1\n\n"x\ny",d,2,2000-01-01,x\n', 1, 3, "Invalid number"],
    [
      'a,b,1,2000-01-01,1\n"c,d,2,2000-01-01,2\n',
      1,
      2,
      "Bad quoting: a quoted field is never closed",
    ],
  ];
  for (const [rows, record, line, reason] of cases) {
    const error = thrown(() => parser.parse(encode(rows), 1));
    assert.ok(error instanceof CsvRowError, String(error));
    assert.equal(error.record, record, rows);
    assert.equal(error.line, line, rows);
    assert.ok(error.reason.startsWith(reason), `${error.reason} for ${JSON.stringify(rows)}`);
    // The file's reader gives the same reason at the same line.
    await withTempFile(rows, async (path) => {
      const { error: fileError } = await collectUntilError(readAgencyBets(path));
      assert.ok(fileError instanceof CsvFormatError);
      assert.equal(fileError.line, line);
      assert.equal(fileError.reason, error.reason);
    });
  }
  // One parser, batch after batch: each result is its own.
  assert.equal(parser.parse(encode("a,b,1,2000-01-01,1\n"), 4).agencies[0], 4);
  assert.equal(parser.parse(encode("a,b,1,2000-01-01,1\nc,d,2,2000-01-01,2"), 5).count, 2);
});

Deno.test("readAgencyRecords() finds every record of a file of one-byte lines (no field count to lean on)", async () => {
  await withTempFile("a\n".repeat(40_000) + "b", async (path) => {
    for (const chunkSize of [7, 65_536]) {
      let count = 0;
      let last = "";
      for await (const chunk of readAgencyRecords(path, { chunkSize })) {
        for (let i = 0; i < chunk.count; i++) {
          assert.equal(chunk.lines[i], count + 1);
          last = new TextDecoder().decode(chunk.bytes.subarray(chunk.starts[i], chunk.ends[i]));
          count++;
        }
      }
      assert.equal(count, 40_001, `chunkSize ${chunkSize}`);
      assert.equal(last, "b");
    }
  });
});
