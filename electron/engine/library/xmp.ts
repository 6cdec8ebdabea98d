// Keywords and the caption into XMP sidecars that digiKam, darktable and Lightroom read (dc:subject and
// lr:hierarchicalSubject for keywords, dc:description for the caption: the field all three show as the caption). The photo itself is never opened for writing.
//
// Sidecar names differ between programs:
// - darktable always uses <basename>.<extension>.xmp ("photo.jpg.xmp"; duplicates get photo_01.jpg.xmp).
// - digiKam defaults to the same, and can be set to photo.xmp instead ("Keep Image Extension in XMP Sidecar Name").
// - Lightroom and Adobe Camera Raw write photo.xmp (extension replaced), and only for proprietary raw files; for
//   JPEG, TIFF, PSD and DNG they read and write the XMP embedded in the file, so a JPEG sidecar is invisible to them.
// Hence raw files get both names and everything else only the darktable/digiKam one. DNG counts as raw so that tools
// following the Adobe naming (Capture One, for one) find it, though Adobe itself reads the XMP inside a DNG.
// darktable reads a sidecar at import; for a photo already in its library it prefers its database unless "look for
// updated XMP files on startup" is on, so keywords written here reach it on the next import or that check.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { DOMParser, type Document, type Element, type Node, XMLSerializer } from '@xmldom/xmldom';

export type SidecarStyle = 'darktable' | 'lightroom' | 'both';

export interface XmpTags {
  keywords: string[];
  hierarchical: string[];
  /** The photo's caption, as dc:description's default language (x-default). */
  description?: string;
}

export interface SidecarResult {
  path: string;
  created: boolean;
  added: string[];
  /** The caption written, when the sidecar did not already have it (absent otherwise). */
  description?: string;
}

const NS = {
  rdf: 'http://www.w3.org/1999/02/22-rdf-syntax-ns#',
  dc: 'http://purl.org/dc/elements/1.1/',
  lr: 'http://ns.adobe.com/lightroom/1.0/',
  xmlns: 'http://www.w3.org/2000/xmlns/',
  xml: 'http://www.w3.org/XML/1998/namespace',
} as const;

const RAW_EXTENSIONS = new Set(['cr2', 'cr3', 'nef', 'arw', 'dng', 'orf', 'rw2', 'raf', 'pef', 'srw']);

const BOM = '\uFEFF';

const NEW_PACKET = `<?xpacket begin="${BOM}" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="${NS.rdf}">
  <rdf:Description rdf:about=""
    xmlns:dc="${NS.dc}"
    xmlns:lr="${NS.lr}"/>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
`;

export function defaultSidecarStyle(photoPath: string): SidecarStyle {
  return RAW_EXTENSIONS.has(path.extname(photoPath).slice(1).toLowerCase()) ? 'both' : 'darktable';
}

export function sidecarPaths(photoPath: string, style: SidecarStyle): string[] {
  const { dir, name } = path.parse(photoPath);
  const darktable = `${photoPath}.xmp`;
  const lightroom = path.join(dir, `${name}.xmp`);
  if (style === 'darktable') return [darktable];
  if (style === 'lightroom') return [lightroom];
  return darktable === lightroom ? [darktable] : [darktable, lightroom];
}

class MalformedXmp extends Error {}

/** An existing sidecar that is not well-formed XMP: it is left as it was, and named here. */
export class XmpSidecarError extends Error {
  override readonly name = 'XmpSidecarError';
  readonly code = 'xmp-malformed';
  constructor(
    readonly sidecar: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`${sidecar} is not well-formed XMP (${reason}); it was left unchanged`, options);
  }
}

function parse(xml: string): Element {
  let problem: string | undefined;
  let doc: Document | undefined;
  try {
    doc = new DOMParser({
      // Even warnings mean the text is not well-formed XML; rewriting it could lose what another program wrote.
      onError: (level, message) => {
        problem ??= `${level}: ${message}`;
        throw new Error(problem);
      },
    }).parseFromString(xml, 'text/xml');
  } catch (e) {
    throw new MalformedXmp(problem ?? String(e), { cause: e });
  }
  const rdf = doc.getElementsByTagNameNS(NS.rdf, 'RDF')[0];
  if (!rdf) throw new MalformedXmp('no rdf:RDF element');
  return rdf;
}

const ELEMENT = 1;
const TEXT = 3;

function elementChildren(node: Node): Element[] {
  return Array.from(node.childNodes).filter((n): n is Element => n.nodeType === ELEMENT);
}

function whitespaceBefore(node: Node): string | null {
  const prev = node.previousSibling;
  return prev && prev.nodeType === TEXT && !prev.nodeValue?.trim() ? (prev.nodeValue ?? '') : null;
}

/**
 * Appends `child` the way its new siblings are laid out (indented, or all on one line), so a merged file still reads
 * like its writer made it.
 */
function appendIndented(parent: Element, child: Element): void {
  const doc = parent.ownerDocument!;
  const last = elementChildren(parent).at(-1);
  const parentIndent = whitespaceBefore(parent);
  if (last || parentIndent === null) {
    const indent = last && whitespaceBefore(last);
    parent.insertBefore(child, last ? last.nextSibling : null);
    if (indent) parent.insertBefore(doc.createTextNode(indent), child);
    return;
  }
  const outer = `\n${parentIndent.split('\n').at(-1)}`;
  for (const n of Array.from(parent.childNodes)) if (n.nodeType === TEXT && !n.nodeValue?.trim()) parent.removeChild(n);
  parent.appendChild(doc.createTextNode(`${outer} `));
  parent.appendChild(child);
  parent.appendChild(doc.createTextNode(outer));
}

/** A prefix bound to `ns` where `desc` can see it, declaring one on `desc` if none is. */
function prefixFor(desc: Element, ns: string, preferred: string): string {
  const existing = desc.lookupPrefix(ns);
  if (existing) return existing;
  let prefix = preferred;
  for (let i = 1; desc.lookupNamespaceURI(prefix) !== null; i++) prefix = `${preferred}${i}`;
  desc.setAttributeNS(NS.xmlns, `xmlns:${prefix}`, ns);
  return prefix;
}

/**
 * The array (rdf:Bag, or a Seq/Alt another program chose) holding a property, created where absent. XMP allows
 * the property in any rdf:Description of the packet, as an element or (for a single simple value) an attribute.
 */
function containerFor(descs: Element[], target: Element, ns: string, local: string, preferred: string): Element {
  const doc = target.ownerDocument!;
  const attachBag = (prop: Element, items: string[]) => {
    const bag = doc.createElementNS(NS.rdf, `${target.lookupPrefix(NS.rdf) ?? 'rdf'}:Bag`);
    appendIndented(prop, bag);
    for (const item of items) addItem(bag, item);
    return bag;
  };
  for (const desc of descs) {
    const prop = elementChildren(desc).find((e) => e.namespaceURI === ns && e.localName === local);
    if (prop) {
      const children = elementChildren(prop);
      const array = children.find((e) => e.namespaceURI === NS.rdf && /^(Bag|Seq|Alt)$/.test(e.localName ?? ''));
      if (array) return array;
      if (children.length > 0) throw new MalformedXmp(`${prop.tagName} is neither an array nor a text value`);
      // A bare literal where an array belongs: keep its value as the first item.
      const value = prop.textContent?.trim() ?? '';
      while (prop.firstChild) prop.removeChild(prop.firstChild);
      return attachBag(prop, value ? [value] : []);
    }
    const attr = desc.getAttributeNodeNS(ns, local);
    if (attr) {
      desc.removeAttributeNode(attr);
      const el = doc.createElementNS(ns, attr.name);
      appendIndented(desc, el);
      return attachBag(el, attr.value.trim() ? [attr.value] : []);
    }
  }
  const el = doc.createElementNS(ns, `${prefixFor(target, ns, preferred)}:${local}`);
  appendIndented(target, el);
  return attachBag(el, []);
}

function addItem(array: Element, value: string): void {
  const li = array.ownerDocument!.createElementNS(NS.rdf, `${array.prefix ?? 'rdf'}:li`);
  li.appendChild(array.ownerDocument!.createTextNode(value));
  appendIndented(array, li);
}

function union(descs: Element[], target: Element, ns: string, local: string, prefix: string, values: string[]) {
  const wanted = [...new Set(values.filter((v) => v.trim()))];
  if (wanted.length === 0) return [];
  const array = containerFor(descs, target, ns, local, prefix);
  const have = new Set(elementChildren(array).map((li) => li.textContent ?? ''));
  const added = wanted.filter((v) => !have.has(v));
  for (const v of added) addItem(array, v);
  return added;
}

const isArray = (e: Element, kinds: RegExp) => e.namespaceURI === NS.rdf && kinds.test(e.localName ?? '');

/** An rdf:li of a language alternative, in the given language. */
function langItem(alt: Element, lang: string, value: string): Element {
  const doc = alt.ownerDocument!;
  const li = doc.createElementNS(NS.rdf, `${alt.prefix ?? 'rdf'}:li`);
  li.setAttributeNS(NS.xml, 'xml:lang', lang);
  li.appendChild(doc.createTextNode(value));
  return li;
}

/**
 * Makes `text` the caption: the x-default item of dc:description's rdf:Alt, created where absent. The caption Glance
 * shows replaces the default-language text (its own earlier export, or another program's: edit the caption in
 * Glance, where a person's edit wins over the models); the other languages' texts and every other field are kept.
 * A description written as an attribute or a bare literal becomes an rdf:Alt. Returns whether anything changed.
 */
function setDescription(descs: Element[], target: Element, text: string): boolean {
  const doc = target.ownerDocument!;
  const newAlt = (prop: Element) => {
    const alt = doc.createElementNS(NS.rdf, `${target.lookupPrefix(NS.rdf) ?? 'rdf'}:Alt`);
    appendIndented(prop, alt);
    appendIndented(alt, langItem(alt, 'x-default', text));
  };
  for (const desc of descs) {
    const prop = elementChildren(desc).find((e) => e.namespaceURI === NS.dc && e.localName === 'description');
    if (prop) {
      const children = elementChildren(prop);
      const alt = children.find((e) => isArray(e, /^Alt$/));
      if (!alt) {
        if (children.length > 0) throw new MalformedXmp(`${prop.tagName} is not a language alternative (rdf:Alt)`);
        // a bare literal: the default language's text, now replaced
        if ((prop.textContent ?? '').trim() === text) return false;
        while (prop.firstChild) prop.removeChild(prop.firstChild);
        newAlt(prop);
        return true;
      }
      const items = elementChildren(alt);
      const lang = (li: Element) => li.getAttributeNS(NS.xml, 'lang') ?? li.getAttribute('xml:lang');
      const current = items.find((li) => lang(li) === 'x-default');
      if (current) {
        if (current.textContent === text) return false;
        while (current.firstChild) current.removeChild(current.firstChild);
        current.appendChild(doc.createTextNode(text));
        return true;
      }
      // XMP puts the default first
      const li = langItem(alt, 'x-default', text);
      if (items[0]) {
        alt.insertBefore(li, items[0]);
        const indent = whitespaceBefore(li);
        if (indent) alt.insertBefore(doc.createTextNode(indent), items[0]);
      } else appendIndented(alt, li);
      return true;
    }
    const attr = desc.getAttributeNodeNS(NS.dc, 'description');
    if (attr) {
      if (attr.value.trim() === text) return false;
      desc.removeAttributeNode(attr);
      const el = doc.createElementNS(NS.dc, attr.name);
      appendIndented(desc, el);
      newAlt(el);
      return true;
    }
  }
  const el = doc.createElementNS(NS.dc, `${prefixFor(target, NS.dc, 'dc')}:description`);
  appendIndented(target, el);
  newAlt(el);
  return true;
}

/**
 * Unions the tags into an XMP packet (a new one when `existing` is null) and sets its caption (see setDescription),
 * keeping everything else in it. Throws when `existing` is not well-formed XMP. `added` (new keywords) is empty and
 * `description` (the caption, when written) absent exactly when the packet needs no change.
 */
export function mergeXmp(
  existing: string | null,
  tags: XmpTags,
): { xml: string; added: string[]; description?: string } {
  const source = existing ?? NEW_PACKET;
  const bom = source.startsWith(BOM) ? BOM : '';
  const rdf = parse(source.slice(bom.length));
  const descs = elementChildren(rdf).filter((e) => e.namespaceURI === NS.rdf && e.localName === 'Description');
  let target = descs.find((d) => d.hasAttributeNS(NS.rdf, 'about')) ?? descs[0];
  if (!target) {
    target = rdf.ownerDocument!.createElementNS(NS.rdf, `${rdf.prefix ?? 'rdf'}:Description`);
    target.setAttributeNS(NS.rdf, `${rdf.prefix ?? 'rdf'}:about`, '');
    appendIndented(rdf, target);
    descs.push(target);
  }
  const added = [
    ...union(descs, target, NS.dc, 'subject', 'dc', tags.keywords),
    ...union(descs, target, NS.lr, 'hierarchicalSubject', 'lr', tags.hierarchical),
  ];
  const description = tags.description?.trim();
  const described = description ? setDescription(descs, target, description) : false;
  // The tree may have been tidied (a literal turned into a Bag) even when no keyword is new; that alone is no reason
  // to rewrite another program's file.
  if (added.length === 0 && !described) return { xml: source, added };
  const xml = bom + new XMLSerializer().serializeToString(rdf.ownerDocument!);
  return described ? { xml, added, description: description! } : { xml, added };
}

async function readIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Readers never see a half-written sidecar: the new text is complete on disk before it takes the old one's name. */
async function writeAtomic(file: string, text: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

export async function writeXmpSidecars(
  photoPath: string,
  tags: XmpTags,
  style: SidecarStyle = defaultSidecarStyle(photoPath),
): Promise<SidecarResult[]> {
  // Merge every sidecar before writing any, so one malformed file leaves the whole set as it was.
  const plans = await Promise.all(
    sidecarPaths(photoPath, style).map(async (file) => {
      const existing = await readIfExists(file);
      try {
        return { file, existing, ...mergeXmp(existing, tags) };
      } catch (e) {
        if (!(e instanceof MalformedXmp)) throw e;
        throw new XmpSidecarError(file, e.message, { cause: e });
      }
    }),
  );
  const results: SidecarResult[] = [];
  for (const { file, existing, xml, added, description } of plans) {
    const changed = added.length > 0 || description !== undefined;
    if (changed) {
      const mode = existing === null ? 0o666 : (await stat(file)).mode & 0o777;
      await writeAtomic(file, xml, mode);
    }
    results.push({
      path: file,
      created: existing === null && changed,
      added,
      ...(description !== undefined ? { description } : {}),
    });
  }
  return results;
}
