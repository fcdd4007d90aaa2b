import assert from "node:assert/strict";
import { testBet } from "./_testing.ts";
import { type Bet, validateBet } from "./bet.ts";
import { firstInvalidBet, packBets, packedDocument, unpackBet } from "./packed_bets.ts";
import {
  AgencyRowsParser,
  betToAgencyRow,
  betToCsvRow,
  packedBetsToCsvRows,
  readAgencyBets,
  readAgencyBetsPacked,
  readStoreBetsPacked,
  validCsvRows,
} from "./csv/mod.ts";

const TODAY = new Date("2024-08-21T15:00:00Z");

function bet(overrides: Partial<Bet> = {}): Bet {
  return testBet(overrides);
}

/** Bets on every edge of every rule, valid and not. */
function edgeBets(): Bet[] {
  const names = [
    "",
    " ",
    "  \u3000 ",
    "\u00a0",
    "\ufeffA",
    "\u2028",
    "Ana",
    " Ana ",
    "Ñ",
    "a\tb",
    "a\nb",
    "\u007f",
    "\u0085",
    "\u009f",
    "\u00a1",
    "🎲",
    "\u1680\u2000\u200a\u202f\u205f",
    "\u200b",
    'D\'Alessandro, "Pocho"',
  ];
  const documents = ["", "1", "1234567890", "12345678901", "12a", "١٢٣", "-1", " 1"];
  const birthdates = [
    "",
    "1900-01-01",
    "1899-12-31",
    "2000-02-29",
    "1900-02-29",
    "1999-02-30",
    "1999-04-31",
    "1999-13-01",
    "1999-00-10",
    "1999-01-00",
    "2024-08-21",
    "2024-08-22",
    "17-03-1999",
    "1999/03/17",
    "1999-3-17",
    "1999-03-17 ",
    "199a-03-17",
  ];
  const numbers = [0, 1, 7574, 99999, 100000, -1, 1.5, Number.NaN, 2 ** 32];
  const agencies = [0, 1, 5, 6, 1.5, Number.NaN];
  const bets: Bet[] = [];
  for (const firstName of names) bets.push(bet({ firstName }), bet({ lastName: firstName }));
  for (const document of documents) bets.push(bet({ document }));
  for (const birthdate of birthdates) bets.push(bet({ birthdate }));
  for (const number of numbers) bets.push(bet({ number }));
  for (const agency of agencies) bets.push(bet({ agency }));
  return bets;
}

Deno.test("firstInvalidBet() gives validateBet()'s verdict on every edge case", () => {
  const options = { agencies: 5, today: TODAY };
  for (const one of edgeBets()) {
    const packed = packBets([bet(), one, bet()]);
    const expected = validateBet(one, options) === undefined ? -1 : 1;
    assert.equal(firstInvalidBet(packed, options), expected, JSON.stringify(one));
  }
});

Deno.test("firstInvalidBet() gives the first bad bet of a batch, or -1", () => {
  const options = { agencies: 5, today: TODAY };
  const good = Array.from({ length: 50 }, (_, i) => bet({ number: i }));
  assert.equal(firstInvalidBet(packBets(good), options), -1);
  const bad = [...good];
  bad[17] = bet({ document: "x" });
  bad[30] = bet({ number: -1 });
  assert.equal(firstInvalidBet(packBets(bad), options), 17);
  // An invalid `today` rejects every birthdate, as validateBet() does.
  assert.equal(firstInvalidBet(packBets(good), { agencies: 5, today: new Date(Number.NaN) }), 0);
});

Deno.test("packBets() and unpackBet() round-trip, packedDocument() reads one document", () => {
  const bets = edgeBets();
  const packed = packBets(bets);
  assert.equal(packed.count, bets.length);
  for (let i = 0; i < bets.length; i++) {
    assert.deepEqual(unpackBet(packed, i), bets[i]);
    assert.equal(packedDocument(packed, i), bets[i].document);
  }
});

Deno.test("packedBetsToCsvRows() writes exactly what betToCsvRow() writes", () => {
  const bets = [
    ...edgeBets(),
    bet({ firstName: "Pérez, Juan", lastName: 'Gómez "el Tano"' }),
    bet({ firstName: "a,\r\n,b", lastName: '""' }),
    bet({ firstName: "漢字 🎲", lastName: ",", number: 0, agency: 65535 }),
  ];
  const rows = new TextDecoder().decode(packedBetsToCsvRows(packBets(bets)));
  assert.equal(rows, bets.map(betToCsvRow).join(""));
  const many = Array.from({ length: 5000 }, (_, i) => bet({ number: i, document: String(i) }));
  assert.equal(
    new TextDecoder().decode(packedBetsToCsvRows(packBets(many))),
    many.map(betToCsvRow).join(""),
  );
});

Deno.test("validCsvRows() gives firstInvalidBet()'s verdict, and packedBetsToCsvRows()'s bytes", () => {
  const options = { agencies: 5, today: TODAY };
  for (const one of edgeBets()) {
    const packed = packBets([bet(), one, bet({ firstName: 'a,"b"' })]);
    const { rows, invalid } = validCsvRows(packed, options);
    assert.equal(invalid, firstInvalidBet(packed, options), JSON.stringify(one));
    if (invalid >= 0) {
      assert.equal(rows, undefined);
    } else {
      assert.deepEqual(rows, packedBetsToCsvRows(packed), JSON.stringify(one));
    }
  }
  const many = packBets(Array.from({ length: 3000 }, (_, i) => bet({ number: i % 100_000 })));
  assert.deepEqual(validCsvRows(many, options).rows, packedBetsToCsvRows(many));
});

Deno.test("validCsvRows() over parsed records (BET_ROWS) writes the rows betToCsvRow() writes", () => {
  const options = { agencies: 5, today: TODAY };
  const parser = new AgencyRowsParser();
  const encode = (text: string) => new TextEncoder().encode(text);
  // Every way a record may differ from its store row: quotes (needed or not), a quote inside
  // an unquoted name, CRLF, leading zeros, no line end.
  const records = [
    "Ana,Pérez,1,2000-01-01,7\n",
    '"Ana",Pérez,1,2000-01-01,7\n',
    '"a,""b""",Pérez,1,2000-01-01,7\n',
    'Ana"B,Pérez,1,2000-01-01,7\n',
    "Ana,Pérez,1,2000-01-01,7\r\n",
    "Ana,Pérez,1,2000-01-01,007\n",
    "Ana,Pérez,1,2000-01-01,0\n",
    "Ana,Pérez,1,2000-01-01,7",
  ];
  for (const record of records) {
    const text = `Luis,Díaz,2,1999-01-01,5\n${record}\nEva,Paz,3,1998-01-01,99999\n`;
    const bets = parser.parse(encode(text), 2);
    assert.equal(bets.count, 3, record);
    const expected = Array.from({ length: bets.count }, (_, i) => betToCsvRow(unpackBet(bets, i)));
    const { rows, invalid } = validCsvRows(bets, options);
    assert.equal(invalid, -1, record);
    assert.equal(new TextDecoder().decode(rows), expected.join(""), JSON.stringify(record));
  }
  // The edge bets as records: the same verdicts and rows as from packBets().
  for (const one of edgeBets()) {
    if (one.agency !== 1 || !Number.isSafeInteger(one.number) || one.number < 0) continue;
    const batch = [bet(), one, bet({ firstName: 'a,"b"' })].map((b) => ({ ...b, agency: 1 }));
    const bets = parser.parse(encode(batch.map(betToAgencyRow).join("")), 1);
    const packed = packBets(batch);
    const { rows, invalid } = validCsvRows(bets, options);
    assert.equal(invalid, firstInvalidBet(packed, options), JSON.stringify(one));
    if (invalid < 0) assert.deepEqual(rows, packedBetsToCsvRows(packed), JSON.stringify(one));
  }
});

async function withTempFile(text: string, fn: (path: string) => Promise<void>): Promise<void> {
  const path = await Deno.makeTempFile({ suffix: ".csv" });
  try {
    await Deno.writeTextFile(path, text);
    await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("readAgencyBetsPacked() yields, chunk by chunk, the bets readAgencyBets() yields", async () => {
  const bets = Array.from(
    { length: 3000 },
    (_, i) =>
      bet({
        agency: 4,
        firstName: i % 7 === 0 ? 'Ana "la" María' : "José",
        lastName: i % 11 === 0 ? "Pérez,\nGómez" : "Núñez",
        number: i,
      }),
  );
  await withTempFile(bets.map(betToAgencyRow).join(""), async (path) => {
    for (const chunkSize of [7, 4096, 65_536]) {
      const unpacked: Bet[] = [];
      const lines: number[] = [];
      let chunks = 0;
      for await (const chunk of readAgencyBetsPacked(path, { agency: 4, chunkSize })) {
        chunks++;
        for (let i = 0; i < chunk.count; i++) {
          unpacked.push(unpackBet(chunk, i));
          lines.push(chunk.lines[i]);
        }
      }
      assert.deepEqual(unpacked, bets, `chunkSize ${chunkSize}`);
      const records = [];
      for await (const record of readAgencyBets(path, { agency: 4, chunkSize })) {
        records.push(record);
      }
      assert.deepEqual(lines, records.map((record) => record.line));
      assert.ok(chunkSize > 4096 || chunks > 10, `only ${chunks} chunks`);
    }
  });
});

Deno.test("readStoreBetsPacked() reads store rows with their agency", async () => {
  const bets = Array.from({ length: 100 }, (_, i) => bet({ agency: 1 + (i % 5), number: i }));
  await withTempFile(bets.map(betToCsvRow).join(""), async (path) => {
    const unpacked: Bet[] = [];
    for await (const chunk of readStoreBetsPacked(path, { chunkSize: 100 })) {
      for (let i = 0; i < chunk.count; i++) unpacked.push(unpackBet(chunk, i));
    }
    assert.deepEqual(unpacked, bets);
  });
});

Deno.test("readAgencyBets() skips a byte order mark at the start of the file, keeps any other U+FEFF", async () => {
  const text = "\ufeffAna,Pérez,1,2000-01-01,1\n\ufeffLuis,\ufeffDíaz,2,2000-01-01,2\n";
  await withTempFile(text, async (path) => {
    for (const chunkSize of [1, 2, 3, 4, 65_536]) {
      const names = [];
      for await (const { bet } of readAgencyBets(path, { chunkSize })) {
        names.push([bet.firstName, bet.lastName]);
      }
      assert.deepEqual(names, [["Ana", "Pérez"], ["\ufeffLuis", "\ufeffDíaz"]], `${chunkSize}`);
    }
  });
});
