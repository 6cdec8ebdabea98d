// XMP sidecars as other programs see them: every file Glance writes is read back by the real exiftool.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultSidecarStyle, mergeXmp, sidecarPaths, writeXmpSidecars } from '../../electron/engine/library/xmp.ts';

const exec = promisify(execFile);
const TAGS = { keywords: ['dog', 'beach'], hierarchical: ['Glance|Animals|dog', 'Glance|Places|beach'] };
const KEYWORD_TAGS = ['Subject', 'HierarchicalSubject'];
const PAST = new Date('2020-01-02T03:04:05Z');

let dir: string;
let photo: string;

type Json = Record<string, unknown>;

async function exiftool(file: string, tags = ['-XMP-dc:Subject', '-XMP-lr:HierarchicalSubject']): Promise<Json> {
  const { stdout } = await exec('exiftool', ['-j', ...tags, file]);
  return (JSON.parse(stdout) as Json[])[0]!;
}

/** exiftool -j prints a one-item list as a bare value. */
function list(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** Everything exiftool sees in the file's XMP except the keywords Glance writes. */
async function otherXmp(file: string): Promise<Json> {
  const all = await exiftool(file, ['-XMP:all', '-G1', '-struct']);
  for (const key of Object.keys(all)) {
    if (key === 'SourceFile' || KEYWORD_TAGS.some((t) => key.endsWith(`:${t}`))) delete all[key];
  }
  return all;
}

async function snapshot(file: string) {
  const bytes = await readFile(file);
  return { sha: createHash('sha256').update(bytes).digest('hex'), mtimeMs: (await stat(file)).mtimeMs };
}

async function writeAged(file: string, text: string | Buffer): Promise<void> {
  await writeFile(file, text);
  await utimes(file, PAST, PAST); // so that any rewrite shows in the mtime
}

beforeAll(async () => {
  try {
    await exec('exiftool', ['-ver']);
  } catch {
    throw new Error(
      'exiftool is required: these tests check the sidecars with the real exiftool. ' +
        'Install it with `apt-get install libimage-exiftool-perl` (CI installs it).',
    );
  }
});

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'glance-xmp-'));
  photo = path.join(dir, 'photo.jpg');
  await sharp({ create: { width: 8, height: 8, channels: 3, background: [200, 120, 40] } })
    .jpeg()
    .toFile(photo);
  await utimes(photo, PAST, PAST);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sidecar names', () => {
  it('uses photo.jpg.xmp for JPEG and both names for raw files', () => {
    expect(defaultSidecarStyle('/p/photo.jpg')).toBe('darktable');
    expect(defaultSidecarStyle('/p/IMG_1.NEF')).toBe('both');
    expect(defaultSidecarStyle('/p/x.dng')).toBe('both');
    expect(sidecarPaths('/p/photo.jpg', 'darktable')).toEqual(['/p/photo.jpg.xmp']);
    expect(sidecarPaths('/p/photo.jpg', 'lightroom')).toEqual(['/p/photo.xmp']);
    expect(sidecarPaths('/p/IMG_1.NEF', 'both')).toEqual(['/p/IMG_1.NEF.xmp', '/p/IMG_1.xmp']);
    expect(sidecarPaths('/p/noext', 'both')).toEqual(['/p/noext.xmp']);
  });
});

describe('writeXmpSidecars', () => {
  it('creates a sidecar that exiftool reads back exactly, and leaves the photo alone', async () => {
    const before = await snapshot(photo);
    const results = await writeXmpSidecars(photo, TAGS);

    const sidecar = `${photo}.xmp`;
    expect(results).toEqual([{ path: sidecar, created: true, added: [...TAGS.keywords, ...TAGS.hierarchical] }]);
    const read = await exiftool(sidecar);
    expect(list(read.Subject)).toEqual(TAGS.keywords);
    expect(list(read.HierarchicalSubject)).toEqual(TAGS.hierarchical);

    const text = await readFile(sidecar, 'utf8');
    expect(text.startsWith('<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>')).toBe(true);
    expect(text.trimEnd().endsWith('<?xpacket end="w"?>')).toBe(true);
    expect(await snapshot(photo)).toEqual(before);
    expect((await readdir(dir)).sort()).toEqual(['photo.jpg', 'photo.jpg.xmp']);
  });

  it('merges into a sidecar exiftool made, keeping its other fields and keywords', async () => {
    const sidecar = `${photo}.xmp`;
    await exec('exiftool', [
      '-o',
      sidecar,
      '-XMP-xmp:Rating=4',
      '-XMP-dc:Title=Beach day',
      '-XMP-dc:Subject=holiday',
      '-XMP-dc:Creator=Ana',
      photo,
    ]);
    const others = await otherXmp(sidecar);

    const [result] = await writeXmpSidecars(photo, { ...TAGS, keywords: ['holiday', ...TAGS.keywords] });
    expect(result).toEqual({ path: sidecar, created: false, added: [...TAGS.keywords, ...TAGS.hierarchical] });

    const read = await exiftool(sidecar, ['-XMP-dc:all', '-XMP-lr:all', '-XMP-xmp:Rating']);
    expect(read.Rating).toBe(4);
    expect(read.Title).toBe('Beach day');
    expect(list(read.Creator)).toEqual(['Ana']);
    expect(list(read.Subject)).toEqual(['holiday', 'dog', 'beach']);
    expect(list(read.HierarchicalSubject)).toEqual(TAGS.hierarchical);
    expect(await otherXmp(sidecar)).toEqual(others);
  });

  it("keeps a digiKam sidecar's TagsList and its keywords", async () => {
    const sidecar = `${photo}.xmp`;
    await writeAged(sidecar, DIGIKAM_SIDECAR);
    const others = await otherXmp(sidecar);
    expect(list(others['XMP-digiKam:TagsList'])).toEqual(['Family/Ana', 'Places/Lisbon']);

    const [result] = await writeXmpSidecars(photo, { keywords: ['Ana', 'dog'], hierarchical: ['Glance|Animals|dog'] });
    expect(result?.added).toEqual(['dog', 'Glance|Animals|dog']);

    const read = await exiftool(sidecar);
    expect(list(read.Subject)).toEqual(['Ana', 'Lisbon', 'dog']);
    expect(list(read.HierarchicalSubject)).toEqual(['Family|Ana', 'Places|Lisbon', 'Glance|Animals|dog']);
    expect(await otherXmp(sidecar)).toEqual(others);
  });

  it('keeps properties written as attributes, as darktable writes them', async () => {
    const sidecar = `${photo}.xmp`;
    await writeAged(sidecar, DARKTABLE_SIDECAR);
    const others = await otherXmp(sidecar);
    expect(others['XMP-xmp:Rating']).toBe(2);
    expect(others['XMP-xmpMM:DerivedFrom']).toBe('photo.jpg');
    expect(Object.keys(others).filter((k) => k.startsWith('XMP-darktable:')).length).toBeGreaterThan(5);

    await writeXmpSidecars(photo, TAGS);
    const read = await exiftool(sidecar);
    expect(list(read.Subject)).toEqual(['darktable|format|jpg', ...TAGS.keywords]);
    expect(list(read.HierarchicalSubject)).toEqual(TAGS.hierarchical);
    expect(await otherXmp(sidecar)).toEqual(others);
  });

  it('turns a keyword held in an attribute into a Bag that keeps it', async () => {
    const sidecar = `${photo}.xmp`;
    await writeAged(
      sidecar,
      `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` +
        `<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" dc:subject="holiday" xmp:Rating="3"/>` +
        `</rdf:RDF></x:xmpmeta>`,
    );
    await writeXmpSidecars(photo, TAGS);
    const read = await exiftool(sidecar, ['-XMP-dc:Subject', '-XMP-lr:HierarchicalSubject', '-XMP-xmp:Rating']);
    expect(list(read.Subject)).toEqual(['holiday', ...TAGS.keywords]);
    expect(list(read.HierarchicalSubject)).toEqual(TAGS.hierarchical);
    expect(read.Rating).toBe(3);
  });

  it('changes nothing when the same tags are written again', async () => {
    await writeXmpSidecars(photo, TAGS);
    const sidecar = `${photo}.xmp`;
    await utimes(sidecar, PAST, PAST);
    const before = await snapshot(sidecar);

    expect(await writeXmpSidecars(photo, TAGS)).toEqual([{ path: sidecar, created: false, added: [] }]);
    expect(await writeXmpSidecars(photo, { keywords: ['beach'], hierarchical: [] })).toEqual([
      { path: sidecar, created: false, added: [] },
    ]);
    expect(await snapshot(sidecar)).toEqual(before);
  });

  it('writes nothing for no tags', async () => {
    expect(await writeXmpSidecars(photo, { keywords: [], hierarchical: [] })).toEqual([
      { path: `${photo}.xmp`, created: false, added: [] },
    ]);
    expect(await readdir(dir)).toEqual(['photo.jpg']);
  });

  it('leaves a malformed sidecar byte for byte as it was, and names it in the error', async () => {
    const raw = path.join(dir, 'IMG_1.NEF');
    await writeAged(raw, Buffer.from('not really a raw file'));
    const broken = path.join(dir, 'IMG_1.xmp');
    // As a crash mid-write leaves it.
    await writeAged(
      broken,
      '<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>\n<x:xmpmeta xmlns:x="adobe:ns:meta/">\n <rdf:RDF',
    );
    const before = await snapshot(broken);

    await expect(writeXmpSidecars(raw, TAGS)).rejects.toThrow(`${broken} is not well-formed XMP`);
    await expect(writeXmpSidecars(raw, TAGS)).rejects.toThrow(/left unchanged/);
    expect(await snapshot(broken)).toEqual(before);
    // The other sidecar is not created either, so the set stays consistent.
    expect((await readdir(dir)).sort()).toEqual(['IMG_1.NEF', 'IMG_1.xmp', 'photo.jpg']);
  });

  it('writes both IMG_1.NEF.xmp and IMG_1.xmp for a raw file and leaves the raw file alone', async () => {
    const raw = path.join(dir, 'IMG_1.NEF');
    await writeAged(raw, Buffer.from('not really a raw file'));
    const before = await snapshot(raw);

    const results = await writeXmpSidecars(raw, TAGS);
    expect(results.map((r) => [path.basename(r.path), r.created])).toEqual([
      ['IMG_1.NEF.xmp', true],
      ['IMG_1.xmp', true],
    ]);
    for (const r of results) {
      const read = await exiftool(r.path);
      expect(list(read.Subject)).toEqual(TAGS.keywords);
      expect(list(read.HierarchicalSubject)).toEqual(TAGS.hierarchical);
    }
    expect(await snapshot(raw)).toEqual(before);
    expect((await readdir(dir)).sort()).toEqual(['IMG_1.NEF', 'IMG_1.NEF.xmp', 'IMG_1.xmp', 'photo.jpg']);
  });

  it('round-trips unicode and XML-special keywords through exiftool', async () => {
    const tags = {
      keywords: ['café', 'R&D <team>', `"quoted" & 'single'`, '東京', 'emoji 🐕'],
      hierarchical: ['Glance|Places|café', 'Glance|R&D <team>', 'Glance|Places|東京'],
    };
    await writeXmpSidecars(photo, tags);
    const read = await exiftool(`${photo}.xmp`);
    expect(list(read.Subject)).toEqual(tags.keywords);
    expect(list(read.HierarchicalSubject)).toEqual(tags.hierarchical);
    expect((await writeXmpSidecars(photo, tags))[0]?.added).toEqual([]);
  });
});

describe('the caption as dc:description', () => {
  const DESCRIPTION_TAGS = ['-XMP-dc:Description', '-XMP-dc:Description-de', '-XMP-dc:Subject'];
  /** Everything in the file's XMP but what Glance writes (keywords, the default-language description). */
  async function untouched(file: string): Promise<Json> {
    const all = await otherXmp(file);
    delete all['XMP-dc:Description'];
    return all;
  }

  it('writes the caption where a sidecar had none, and exiftool reads it back', async () => {
    const results = await writeXmpSidecars(photo, { ...TAGS, description: ' Two dogs on a beach. ' });
    const sidecar = `${photo}.xmp`;
    expect(results).toEqual([
      {
        path: sidecar,
        created: true,
        added: [...TAGS.keywords, ...TAGS.hierarchical],
        description: 'Two dogs on a beach.',
      },
    ]);
    const read = await exiftool(sidecar, DESCRIPTION_TAGS);
    expect(read.Description).toBe('Two dogs on a beach.');
    expect(list(read.Subject)).toEqual(TAGS.keywords);
    // an rdf:Alt with the default language, as the XMP spec has it
    expect(await readFile(sidecar, 'utf8')).toMatch(
      /<dc:description>\s*<rdf:Alt>\s*<rdf:li xml:lang="x-default">Two dogs on a beach\.<\/rdf:li>\s*<\/rdf:Alt>\s*<\/dc:description>/,
    );
  });

  it('writes a caption alone, for a photo without tags', async () => {
    const [result] = await writeXmpSidecars(photo, { keywords: [], hierarchical: [], description: 'A red square.' });
    expect(result).toEqual({ path: `${photo}.xmp`, created: true, added: [], description: 'A red square.' });
    expect((await exiftool(`${photo}.xmp`, DESCRIPTION_TAGS)).Description).toBe('A red square.');
  });

  it("replaces the default-language text of exiftool's sidecar, keeping its other languages and fields", async () => {
    const sidecar = `${photo}.xmp`;
    await exec('exiftool', [
      '-o',
      sidecar,
      '-XMP-dc:Description=An old caption',
      '-XMP-dc:Description-de=Ein Hund',
      '-XMP-dc:Title=Beach day',
      '-XMP-xmp:Rating=4',
      '-XMP-dc:Subject=holiday',
      photo,
    ]);
    const others = await untouched(sidecar);
    expect(others['XMP-dc:Description-de']).toBe('Ein Hund');

    const [result] = await writeXmpSidecars(photo, { ...TAGS, description: 'Two dogs on a beach.' });
    expect(result).toMatchObject({ created: false, description: 'Two dogs on a beach.' });
    const read = await exiftool(sidecar, DESCRIPTION_TAGS);
    expect(read.Description).toBe('Two dogs on a beach.');
    expect(read['Description-de']).toBe('Ein Hund');
    expect(list(read.Subject)).toEqual(['holiday', ...TAGS.keywords]);
    expect(await untouched(sidecar)).toEqual(others);
  });

  it('adds a default language before the others when an Alt has none', async () => {
    const sidecar = `${photo}.xmp`;
    await exec('exiftool', ['-o', sidecar, '-XMP-dc:Description-de=Ein Hund', photo]);
    await writeXmpSidecars(photo, { keywords: [], hierarchical: [], description: 'A dog.' });
    const read = await exiftool(sidecar, DESCRIPTION_TAGS);
    expect(read.Description).toBe('A dog.');
    expect(read['Description-de']).toBe('Ein Hund');
    const text = await readFile(sidecar, 'utf8');
    expect(text.indexOf('x-default')).toBeGreaterThan(0);
    expect(text.indexOf('x-default')).toBeLessThan(text.search(/xml:lang=.de./));
  });

  it('turns a description held in an attribute (as darktable writes it) into an Alt, keeping the rest', async () => {
    const sidecar = `${photo}.xmp`;
    await writeAged(sidecar, DARKTABLE_SIDECAR.replace('xmp:Rating="2"', 'xmp:Rating="2"\n   dc:description="old"'));
    const others = await untouched(sidecar);
    await writeXmpSidecars(photo, { ...TAGS, description: 'A new caption & <more>' });
    const read = await exiftool(sidecar, DESCRIPTION_TAGS);
    expect(read.Description).toBe('A new caption & <more>');
    expect(list(read.Subject)).toEqual(['darktable|format|jpg', ...TAGS.keywords]);
    expect(await untouched(sidecar)).toEqual(others);
  });

  it('changes nothing when the sidecar already has the caption and the tags', async () => {
    const tags = { ...TAGS, description: 'Café au lait, 東京 🐕' };
    await writeXmpSidecars(photo, tags);
    const sidecar = `${photo}.xmp`;
    expect((await exiftool(sidecar, DESCRIPTION_TAGS)).Description).toBe('Café au lait, 東京 🐕');
    await utimes(sidecar, PAST, PAST);
    const before = await snapshot(sidecar);
    expect(await writeXmpSidecars(photo, tags)).toEqual([{ path: sidecar, created: false, added: [] }]);
    expect(await snapshot(sidecar)).toEqual(before);
    // a new caption is a change, and only the caption changes
    expect((await writeXmpSidecars(photo, { ...tags, description: 'Another.' }))[0]).toEqual({
      path: sidecar,
      created: false,
      added: [],
      description: 'Another.',
    });
    expect((await exiftool(sidecar, DESCRIPTION_TAGS)).Description).toBe('Another.');
  });

  it('refuses a dc:description that is not a language alternative, leaving the file alone', () => {
    const odd =
      '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" ' +
      'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description><rdf:Bag><rdf:li>x</rdf:li></rdf:Bag></dc:description></rdf:Description></rdf:RDF>';
    expect(() => mergeXmp(odd, { keywords: [], hierarchical: [], description: 'y' })).toThrow(/dc:description/);
  });
});

describe('mergeXmp', () => {
  it('adds to the rdf:Description that has rdf:about and returns the text untouched when nothing is new', () => {
    const existing = `<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Make="NIKON"/>
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="1"/>
 </rdf:RDF>
</x:xmpmeta>`;
    const { xml, added } = mergeXmp(existing, { keywords: ['dog', 'dog', ' '], hierarchical: [] });
    expect(added).toEqual(['dog']);
    expect(xml).toContain('<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Make="NIKON"/>');
    expect(xml).toMatch(
      /<rdf:Description rdf:about="" [^>]*xmp:Rating="1"[^>]*>\s*<dc:subject>\s*<rdf:Bag>\s*<rdf:li>dog<\/rdf:li>/,
    );
    expect(mergeXmp(xml, { keywords: ['dog'], hierarchical: [] })).toEqual({ xml, added: [] });
  });

  it('turns a text value where a Bag belongs into a Bag that keeps it', () => {
    const existing =
      '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" ' +
      'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject>holiday</dc:subject></rdf:Description></rdf:RDF>';
    expect(mergeXmp(existing, { keywords: ['dog'], hierarchical: [] }).xml).toContain(
      '<dc:subject><rdf:Bag><rdf:li>holiday</rdf:li><rdf:li>dog</rdf:li></rdf:Bag></dc:subject>',
    );
  });

  it('rejects text that is not well-formed, or a keyword property it cannot read', () => {
    expect(() => mergeXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>', TAGS)).toThrow();
    expect(() => mergeXmp('<a b=c/>', TAGS)).toThrow();
    expect(() => mergeXmp('<html/>', TAGS)).toThrow(/rdf:RDF/);
    const odd =
      '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" ' +
      'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Description/></dc:subject></rdf:Description></rdf:RDF>';
    expect(() => mergeXmp(odd, TAGS)).toThrow(/dc:subject/);
  });
});

// As digiKam 8 (Exiv2) writes a sidecar for a tagged, rated JPEG.
const DIGIKAM_SIDECAR = `<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/"
    xmlns:MicrosoftPhoto="http://ns.microsoft.com/photo/1.0/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:mediapro="http://ns.iview-multimedia.com/mediapro/1.0/"
    xmlns:acdsee="http://ns.acdsee.com/iptc/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
   xmp:Rating="3"
   MicrosoftPhoto:Rating="50"
   acdsee:categories="&lt;Categories&gt;&lt;Category Assigned=&quot;0&quot;&gt;Family&lt;/Category&gt;&lt;/Categories&gt;">
   <digiKam:TagsList>
    <rdf:Seq>
     <rdf:li>Family/Ana</rdf:li>
     <rdf:li>Places/Lisbon</rdf:li>
    </rdf:Seq>
   </digiKam:TagsList>
   <MicrosoftPhoto:LastKeywordXMP>
    <rdf:Bag>
     <rdf:li>Family/Ana</rdf:li>
     <rdf:li>Places/Lisbon</rdf:li>
    </rdf:Bag>
   </MicrosoftPhoto:LastKeywordXMP>
   <lr:hierarchicalSubject>
    <rdf:Bag>
     <rdf:li>Family|Ana</rdf:li>
     <rdf:li>Places|Lisbon</rdf:li>
    </rdf:Bag>
   </lr:hierarchicalSubject>
   <mediapro:CatalogSets>
    <rdf:Bag>
     <rdf:li>Family|Ana</rdf:li>
     <rdf:li>Places|Lisbon</rdf:li>
    </rdf:Bag>
   </mediapro:CatalogSets>
   <dc:subject>
    <rdf:Bag>
     <rdf:li>Ana</rdf:li>
     <rdf:li>Lisbon</rdf:li>
    </rdf:Bag>
   </dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
`;

// As darktable 4.x writes one: simple properties as attributes, its history as child elements.
const DARKTABLE_SIDECAR = `<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:darktable="http://darktable.sf.net/"
   exif:DateTimeOriginal="2024:06:01 10:00:00"
   xmp:Rating="2"
   xmpMM:DerivedFrom="photo.jpg"
   darktable:import_timestamp="63852480000000000"
   darktable:change_timestamp="-1"
   darktable:export_timestamp="-1"
   darktable:print_timestamp="-1"
   darktable:xmp_version="5"
   darktable:raw_params="0"
   darktable:auto_presets_applied="1"
   darktable:history_end="1"
   darktable:iop_order_version="2">
   <dc:subject>
    <rdf:Bag>
     <rdf:li>darktable|format|jpg</rdf:li>
    </rdf:Bag>
   </dc:subject>
   <darktable:masks_history>
    <rdf:Seq/>
   </darktable:masks_history>
   <darktable:history>
    <rdf:Seq>
     <rdf:li
      darktable:num="0"
      darktable:operation="colorin"
      darktable:enabled="1"
      darktable:modversion="7"
      darktable:params="gz48eJzjZBgFowABAAAA"
      darktable:multi_name=""
      darktable:multi_priority="0"
      darktable:blendop_version="14"
      darktable:blendop_params="gz14eJxjYIAACQYYcHIgDQAAAA=="/>
    </rdf:Seq>
   </darktable:history>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
`;
