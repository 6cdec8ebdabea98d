// Which text encoder a search query goes to in `auto`: English to CLIP's own text tower (what the library was
// indexed against, the best for English), anything else to the multilingual encoder (which reads English too, a
// little less well). The two mistakes do not cost the same: English sent to the multilingual model still finds the
// photos, a German query sent to CLIP's English tower mostly does not. So anything not clearly English is "other".
//
// How: a query with letters of a non-Latin script (Cyrillic, Greek, Arabic, Hebrew, Devanagari, Thai, CJK, Hangul,
// …) is other at once; a Latin-script query goes to eld (Efficient Language Detector, Apache-2.0, n-gram based,
// made for short text), with its large database, loaded on the first query that needs it (about 4 MB). The user's
// locale is no help here: people type English queries on German systems and the other way round. Measured on mixed
// queries by `npm run bench:search` (test/bench/query-languages.ts).

export type QueryLanguage = 'en' | 'other';

interface Detector {
  detect(text: string): { language: string };
}

let detector: Promise<Detector> | null = null;

function eld(): Promise<Detector> {
  detector ??= import('eld/large').then((m) => m.eld as Detector);
  return detector;
}

/** Letters of scripts other than Latin: CLIP's English tower cannot read them. */
const NON_LATIN =
  /[\p{Script=Cyrillic}\p{Script=Greek}\p{Script=Arabic}\p{Script=Hebrew}\p{Script=Devanagari}\p{Script=Bengali}\p{Script=Thai}\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Georgian}\p{Script=Armenian}\p{Script=Tamil}\p{Script=Telugu}\p{Script=Gujarati}\p{Script=Gurmukhi}\p{Script=Kannada}\p{Script=Malayalam}\p{Script=Sinhala}\p{Script=Khmer}\p{Script=Lao}\p{Script=Myanmar}\p{Script=Ethiopic}]/u;

/** English, or another language (see the header). A query with no letters at all is English: nothing to translate. */
export async function queryLanguage(text: string): Promise<QueryLanguage> {
  if (NON_LATIN.test(text)) return 'other';
  if (!/\p{L}/u.test(text)) return 'en';
  const { language } = (await eld()).detect(text);
  // eld answers '' when it cannot tell (a lone short word): CLIP's tower, as for a query that is just a name
  return language === 'en' || language === '' ? 'en' : 'other';
}
