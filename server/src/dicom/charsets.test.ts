import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import iconv from 'iconv-lite';
import { decodeText, encodeText, personNameGroups, setSiteDefaultCharset } from './charsets.js';
import { metaHeader, readPart10, writePart10 } from './part10.js';
import { readDataSet, text } from './reader.js';
import { TAGS } from './tags.js';

const ESC = 0x1b;
const bytes = (...parts: (string | number[] | Buffer)[]) =>
  Uint8Array.from(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p)))));
const gb = (s: string) => iconv.encode(s, 'gb18030');
const utf8 = (s: string) => Buffer.from(s, 'utf8');
/** JIS X 0208 in its 7-bit ISO 2022 form: EUC-JP with the high bits cleared. */
const jis = (s: string) => Buffer.from([...iconv.encode(s, 'euc-jp')].map((b) => b & 0x7f));

describe('DICOM character sets (PS3.5 §6.1, Annex J)', () => {
  test('declared whole-value sets: ISO_IR 192, GB18030, GBK, ISO_IR 100', () => {
    assert.equal(decodeText(utf8('李^雷'), 'ISO_IR 192'), '李^雷');
    assert.equal(decodeText(gb('李^雷'), 'GB18030'), '李^雷');
    assert.equal(decodeText(gb('李^雷'), 'GBK'), '李^雷');
    assert.equal(decodeText(bytes('M', [0xfc], 'ller^J', [0xf6], 'rg'), 'ISO_IR 100'), 'Müller^Jörg');
    // Four-byte GB18030 (outside GBK): U+20000 𠀀.
    assert.equal(decodeText(gb('𠀀^雷'), 'GB18030'), '𠀀^雷');
  });

  test('a GBK second byte 0x5C or 0x5E is half a character, not a delimiter', () => {
    const value = bytes(gb('乗'), '^', gb('乛'), '\\', gb('俓'));
    assert.deepEqual([...gb('乗')], [0x81, 0x5c]);
    assert.equal(decodeText(value, 'GB18030'), '乗^乛\\俓');
    assert.equal(decodeText(value, undefined), '乗^乛\\俓');
  });

  test('GB2312 in ISO 2022 form, G1 designated per component group (Annex J example)', () => {
    const value = bytes('Zhang^XiaoDong=', [ESC], '$)A', gb('张'), '^', [ESC], '$)A', gb('小东'), '=');
    assert.equal(decodeText(value, '\\ISO 2022 IR 58'), 'Zhang^XiaoDong=张^小东=');
    assert.deepEqual(personNameGroups(decodeText(value, '\\ISO 2022 IR 58')), {
      alphabetic: 'Zhang^XiaoDong',
      ideographic: '张^小东',
      phonetic: '',
    });
    // Designated once for the whole value: still read.
    assert.equal(decodeText(bytes([ESC], '$)A', gb('张^小东')), 'ISO 2022 IR 6\\ISO 2022 IR 58'), '张^小东');
  });

  test('Korean KS X 1001 in ISO 2022 form (Annex I example)', () => {
    const kr = (s: string) => iconv.encode(s, 'euc-kr');
    const value = bytes(
      'Hong^Gildong=',
      [ESC],
      '$)C',
      kr('洪'),
      '^',
      [ESC],
      '$)C',
      kr('吉洞'),
      '=',
      [ESC],
      '$)C',
      kr('홍'),
      '^',
      [ESC],
      '$)C',
      kr('길동'),
    );
    assert.equal(decodeText(value, '\\ISO 2022 IR 149'), 'Hong^Gildong=洪^吉洞=홍^길동');
  });

  test('Japanese JIS X 0208 in G0: 7-bit bytes that look like ^ or = are halves of characters (Annex H example)', () => {
    const value = bytes(
      'Yamada^Tarou=',
      [ESC],
      '$B',
      jis('山田'),
      [ESC],
      '(B^',
      [ESC],
      '$B',
      jis('太郎'),
      [ESC],
      '(B=',
      [ESC],
      '$B',
      jis('やまだ'),
      [ESC],
      '(B^',
      [ESC],
      '$B',
      jis('たろう'),
      [ESC],
      '(B',
    );
    // 郎 is 0x4F3A and だ 0x2540 in JIS X 0208; ま (0x245E) carries a 0x5E.
    assert.ok(jis('やまだ').includes(0x5e));
    assert.equal(decodeText(value, '\\ISO 2022 IR 87'), 'Yamada^Tarou=山田^太郎=やまだ^たろう');
    const groups = personNameGroups(decodeText(value, '\\ISO 2022 IR 87'));
    assert.equal(groups.phonetic, 'やまだ^たろう');
    // Half-width katakana in G1 (ISO 2022 IR 13) next to JIS X 0208.
    const kana = bytes([0xd4, 0xcf, 0xc0, 0xde], '^', [0xc0, 0xdb, 0xb3], '=', [ESC], '$B', jis('山田'), [ESC], '(J^');
    assert.equal(decodeText(kana, 'ISO 2022 IR 13\\ISO 2022 IR 87'), 'ﾔﾏﾀﾞ^ﾀﾛｳ=山田^');
  });

  test('Latin-1 in ISO 2022 form and in G1 from value 1', () => {
    assert.equal(decodeText(bytes('M', [0xfc], 'ller'), 'ISO 2022 IR 100'), 'Müller');
    assert.equal(decodeText(bytes([ESC], '-A', 'M', [0xfc], 'ller'), '\\ISO 2022 IR 100'), 'Müller');
  });

  test('undeclared non-ASCII: UTF-8 when valid, else GB18030 — never Latin-1', () => {
    assert.equal(decodeText(utf8('李^雷'), undefined), '李^雷');
    assert.equal(decodeText(utf8('李^雷'), ''), '李^雷');
    assert.equal(decodeText(gb('李^雷'), undefined), '李^雷');
    assert.equal(decodeText(gb('李^雷'), 'ISO_IR 6'), '李^雷', 'plain ASCII declared and broken: undeclared');
    assert.equal(decodeText(gb('李^雷'), 'ISO_IR 999'), '李^雷', 'a term we do not know: undeclared');
    assert.equal(decodeText(utf8('Müller'), undefined), 'Müller');
    assert.equal(decodeText(bytes('Doe^Jane'), undefined), 'Doe^Jane');
  });

  test('undeclared text in the default set: the caller’s (a node’s), else the site’s', () => {
    // 中文 in GB18030 (D6D0 CEC4) is not valid UTF-8 either way; "ÖÐÎÄ" would be its Latin-1 misreading.
    assert.equal(decodeText(gb('中文'), undefined, 'GB18030'), '中文');
    assert.equal(decodeText(bytes([0xd6, 0xd0]), undefined, 'ISO_IR 100'), 'ÖÐ');
    try {
      setSiteDefaultCharset('ISO_IR 100');
      assert.equal(decodeText(bytes([0xd6, 0xd0]), undefined), 'ÖÐ');
      assert.equal(decodeText(bytes([0xd6, 0xd0]), undefined, 'GB18030'), '中', 'the node’s default wins over the site’s');
      assert.equal(decodeText(utf8('李'), 'ISO_IR 192'), '李', 'a declared set wins over any default');
    } finally {
      setSiteDefaultCharset(undefined);
    }
    assert.throws(() => setSiteDefaultCharset('KLINGON'), /unknown DICOM character set/);
  });

  test('encoding for the sets we write', () => {
    assert.deepEqual([...encodeText('李^雷', 'GB18030')], [...gb('李^雷')]);
    assert.deepEqual([...encodeText('李^雷', 'ISO_IR 192')], [...utf8('李^雷')]);
  });
});

describe('the reading façade decodes text by the dataset’s set', () => {
  /** Implicit VR little endian elements; `items` makes an undefined-length sequence. */
  const element = (group: number, el: number, value: Uint8Array | Uint8Array[][]): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt16LE(group, 0);
    head.writeUInt16LE(el, 2);
    if (value instanceof Uint8Array) {
      const padded = value.length % 2 ? Buffer.concat([value, Buffer.from(' ')]) : Buffer.from(value);
      head.writeUInt32LE(padded.length, 4);
      return Buffer.concat([head, padded]);
    }
    head.writeUInt32LE(0xffffffff, 4);
    const items = value.map((item) => {
      const body = Buffer.concat(item);
      const itemHead = Buffer.alloc(8);
      itemHead.writeUInt16LE(0xfffe, 0);
      itemHead.writeUInt16LE(0xe000, 2);
      itemHead.writeUInt32LE(body.length, 4);
      return Buffer.concat([itemHead, body]);
    });
    const end = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
    return Buffer.concat([head, ...items, end]);
  };

  test('sequence items inherit (0008,0005) unless they declare their own; undeclared items use the default', async () => {
    const { elementOf } = await import('./reader.js');
    const dataset = (charset: string | undefined) =>
      Buffer.concat([
        ...(charset === undefined ? [] : [element(0x0008, 0x0005, bytes(charset))]),
        element(0x0010, 0x0010, gb('李^雷')),
        element(0x0040, 0x0100, [
          [element(0x0040, 0x0007, gb('胸部正位'))],
          [element(0x0008, 0x0005, bytes('ISO_IR 192')), element(0x0040, 0x0007, utf8('胸部侧位'))],
        ]),
      ]);
    for (const charset of ['GB18030', undefined]) {
      const ds = readDataSet(dataset(charset), { transferSyntax: '1.2.840.10008.1.2' });
      const [first, second] = elementOf(ds, TAGS.scheduledStepSequence)!.items!.map((i) => i.dataSet);
      assert.deepEqual(
        [text(ds, TAGS.patientName), text(first, TAGS.scheduledStepDescription), text(second, TAGS.scheduledStepDescription)],
        ['李^雷', '胸部正位', '胸部侧位'],
        `declared ${charset}`,
      );
    }
    // A node configured for Latin-1 gets its undeclared bytes read as Latin-1: configured, not by accident.
    const latin = readDataSet(dataset(undefined), { transferSyntax: '1.2.840.10008.1.2', defaultCharset: 'ISO_IR 100' });
    assert.equal(text(latin, TAGS.patientName), Buffer.from(gb('李^雷')).toString('latin1'));
  });
});

describe('editing a file keeps its text (readPart10 decodes by the same rule, writePart10 writes UTF-8)', () => {
  const implicit = (group: number, el: number, value: Uint8Array): Buffer => {
    const padded = value.length % 2 ? Buffer.concat([value, Buffer.from(' ')]) : Buffer.from(value);
    const head = Buffer.alloc(8);
    head.writeUInt16LE(group, 0);
    head.writeUInt16LE(el, 2);
    head.writeUInt32LE(padded.length, 4);
    return Buffer.concat([head, padded]);
  };
  const file = (charset: string | undefined, name: Uint8Array, description: Uint8Array) =>
    Buffer.concat([
      metaHeader({
        sopClassUid: '1.2.840.10008.5.1.4.1.1.7',
        sopInstanceUid: '2.25.77',
        transferSyntax: '1.2.840.10008.1.2',
        sourceAet: '',
      }),
      ...(charset === undefined ? [] : [implicit(0x0008, 0x0005, bytes(charset))]),
      implicit(0x0008, 0x0016, bytes('1.2.840.10008.5.1.4.1.1.7\0')),
      implicit(0x0008, 0x0018, bytes('2.25.77\0')),
      implicit(0x0008, 0x1030, description),
      implicit(0x0010, 0x0010, name),
    ]);

  test('undeclared GB18030, GB2312 with code extensions and declared GB18030 come out as Unicode, declared ISO_IR 192', async () => {
    // 乗 (GBK 81 5C) is not in GB2312: the ISO 2022 case has a description without it.
    const cases: [string | undefined, Uint8Array, string, string][] = [
      [undefined, gb('李^雷'), '李^雷', '乗部\\正位'],
      ['GB18030', gb('李^雷'), '李^雷', '乗部\\正位'],
      [
        '\\ISO 2022 IR 58',
        bytes('Zhang^XiaoDong=', [ESC], '$)A', gb('张'), '^', [ESC], '$)A', gb('小东')),
        'Zhang^XiaoDong=张^小东',
        '胸部\\正位',
      ],
    ];
    for (const [charset, name, expected, description] of cases) {
      const described = charset?.includes('2022') ? bytes([ESC], '$)A', gb(description)) : gb(description);
      const dataset = readPart10(file(charset, name, described));
      assert.equal(dataset.SpecificCharacterSet, 'ISO_IR 192');
      const written = readDataSet(writePart10(dataset));
      assert.equal(text(written, TAGS.patientName), expected, `declared ${charset}`);
      assert.equal(text(written, TAGS.studyDescription), description, 'a GB18030 0x5C inside 乗 is not a value delimiter');
      assert.equal(text(written, TAGS.specificCharacterSet), 'ISO_IR 192');
    }
  });
});

describe('writing for a node configured for GB18030 (charset-writer.ts)', () => {
  test('every text value re-encoded, through the sequences; (0008,0005) GB18030; pixels and the rest unchanged', async () => {
    const { withCharset } = await import('./charset-writer.js');
    const { writeDx } = await import('./dx-writer.js');
    const { dxInput } = await import('../../test/dicom-helpers.js');
    const input = dxInput('2.25.4242', {
      patient: {
        id: 'P李',
        name: '李^雷',
        birthDate: '19800101',
        sex: 'M',
        age: '045Y',
        animal: { species: '犬', breed: '比格', owner: '韩^梅梅', neutered: '' },
      },
    });
    const utf8File = writeDx({ ...input, series: { ...input.series, description: '胸部 乗' } });
    const gbFile = withCharset(utf8File, 'GB18030');
    const [before, after] = [readDataSet(utf8File), readDataSet(gbFile)];
    assert.equal(text(after, TAGS.specificCharacterSet), 'GB18030');
    for (const tag of [
      TAGS.patientName,
      TAGS.patientId,
      TAGS.seriesDescription,
      TAGS.responsiblePerson,
      TAGS.patientSpecies,
      TAGS.sopInstance,
    ])
      assert.equal(text(after, tag), text(before, tag), tag);
    const name = after.elements[TAGS.patientName];
    assert.deepEqual([...gbFile.subarray(name.dataOffset, name.dataOffset + name.length)], [...gb('李^雷'), 0x20]);
    const pixels = (ds: typeof before) => {
      const e = ds.elements[TAGS.pixelData];
      return Buffer.from(ds.byteArray.subarray(e.dataOffset, e.dataOffset + e.length));
    };
    assert.ok(pixels(after).equals(pixels(before)));
    // Back to UTF-8: the same bytes of text as the original.
    const again = readDataSet(withCharset(gbFile, 'ISO_IR 192'));
    assert.equal(text(again, TAGS.patientName), '李^雷');
    assert.equal(text(again, TAGS.specificCharacterSet), 'ISO_IR 192');
  });
});

test('DICOM_DEFAULT_CHARSET names one of the sets a default may be', async () => {
  const { loadConfig } = await import('../config.js');
  assert.equal(loadConfig({ DICOM_DEFAULT_CHARSET: 'GB18030' }).dicomDefaultCharset, 'GB18030');
  assert.equal(loadConfig({}).dicomDefaultCharset, undefined);
  assert.throws(() => loadConfig({ DICOM_DEFAULT_CHARSET: 'ISO 2022 IR 58' }), /DICOM_DEFAULT_CHARSET must be one of/);
});
