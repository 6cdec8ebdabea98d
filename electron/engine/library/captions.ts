// Captions: one sentence per photo and model, a person's own edit above them all, searchable by their words.
// The rows and their full-text index are migration 6 (db/migrations.ts); the queries are in store.ts; this file holds
// what is decided here: which caption shows, what a search's words are, how the two rankings of a text search fuse,
// and the caption job's reader of photos still to caption.
import type { LibraryStore } from './store.ts';

/** The model id under which a person's own caption is stored: it always shows, and no model caption replaces it. */
export const PERSON = 'person';

/** A caption is one short paragraph: longer text is refused (the window's editor keeps to it too). */
export const MAX_CAPTION_CHARS = 2000;

/** The caption a photo shows: a person's own when there is one, else the newest model caption. */
export interface ShownCaption {
  text: string;
  /** The model id that wrote it, or 'person'. */
  model: string;
  /** ms since the epoch */
  createdAt: number;
  /** A person wrote (or edited) it. */
  edited: boolean;
}

/** A photo still to caption: its id (the reader's position) and its file. */
export interface PhotoToCaption {
  id: number;
  path: string;
}

export interface PhotosToCaptionQuery {
  /** Library folders by id; all of them when absent. */
  folderIds?: number[];
  /** The model id whose captions count: photos with a current one are not returned. */
  model: string;
  /**
   * Redo: a caption by `model` older than this (ms since the epoch) counts as missing. Give the redo job's start,
   * and keep it for a resumed job: what the job already wrote is newer, so it is not done again.
   */
  redoBefore?: number;
}

/**
 * The photos a caption job has left, read in pages by id. Ordered by id and asking the database at each page, so a
 * job that stops (cancelled, killed) and starts again continues after the last photo it finished: a finished photo
 * has its caption and no longer qualifies. Photos with a person's caption are never returned: the model's caption
 * would never show, and a redo never touches them.
 */
export class CaptionQueue {
  /** How many photos qualified when the reader was made (the job's total). */
  readonly total: number;
  private after = 0;
  private page: PhotoToCaption[] = [];
  private ended = false;

  constructor(
    private readonly store: LibraryStore,
    private readonly query: PhotosToCaptionQuery,
    private readonly pageSize = 64,
  ) {
    this.total = store.captionsMissingCount(query);
  }

  /** The next photo to caption, or null when none is left. A photo removed or captioned meanwhile is skipped. */
  next(): PhotoToCaption | null {
    for (;;) {
      if (this.page.length === 0) {
        if (this.ended) return null;
        this.page = this.store.captionsMissingPage(this.query, this.after, this.pageSize);
        if (this.page.length < this.pageSize) this.ended = true;
        if (this.page.length === 0) return null;
        this.after = this.page[this.page.length - 1]!.id;
      }
      const photo = this.page.shift()!;
      // the page was read a while ago (one photo takes seconds): check it still qualifies, by primary key
      if (this.store.captionMissing(photo.id, this.query)) return photo;
    }
  }
}

// English words that carry no subject: dropped from a search's terms so that "a photo of a dog on the beach" asks
// for captions with "dog" and "beach". "photo", "picture", "image" and their kin are dropped too: every item in the
// library is one, CLIP prompts are phrased with them, and a caption rarely says so.
const STOPWORDS = new Set(
  (
    'a an the and or but nor of in on at to from by for with without into onto over under above below near ' +
    'is are was were be been being am do does did has have had having it its this that these those there here ' +
    'some something someone any as about up down out off than then so such very just only also not no ' +
    'i me my we our you your he him his she her they them their what which who whom whose where when why how ' +
    's t can could will would should may might must shall ' +
    'photo photos photograph photographs picture pictures image images pic pics shot snapshot'
  ).split(' '),
);

/**
 * The FTS5 query for a search text: every word that is not a stopword, each quoted (so no word is read as FTS
 * syntax: AND, NEAR, a column filter), all required (FTS5 joins them with AND). The table's porter tokenizer stems
 * the query's words as it stemmed the captions'. Null when no word is left: the search is CLIP's alone.
 */
export function captionQuery(text: string): string | null {
  const words = (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => !STOPWORDS.has(w));
  const unique = [...new Set(words)];
  return unique.length === 0 ? null : unique.map((w) => `"${w.replaceAll('"', '""')}"`).join(' ');
}

/** Reciprocal rank fusion's constant: the usual 60 (Cormack et al. 2009), which damps the lead of the first ranks. */
export const RRF_K = 60;

/**
 * The order of a text search: tiered reciprocal rank fusion.
 *
 * Tier 1 is the photos whose shown caption contains every word of the query (after stopwords, with stemming): that
 * is direct evidence the photo shows what was asked for, while CLIP's similarity is only a likeness, high for photos
 * that merely look related, so every caption match ranks above every photo CLIP alone finds. Within tier 1 the two
 * rankings are fused by reciprocal rank fusion, sum of 1 / (k + rank) over both lists: FTS5's bm25 and CLIP's cosine
 * are on scales that cannot be compared or added, but their ranks can, and RRF needs no tuning beyond k. Both ranks
 * are taken within tier 1 (CLIP's over the matching photos only), so both lists rank the same set.
 * Tier 2 is CLIP's other hits, in CLIP's order.
 *
 * `matches`: tier 1's ids, best bm25 first. `clipOfMatches`: those of them CLIP scores, best first (a photo without
 * an embedding is missing and ranks after the rest there). `clip`: CLIP's hits over the whole filtered library.
 * Returns ids with their CLIP score (null when CLIP has none), at most `limit`.
 */
export function fuseRankings(
  matches: number[],
  clipOfMatches: { id: number; score: number }[],
  clip: { id: number; score: number }[],
  limit: number,
): { id: number; score: number | null }[] {
  const clipRank = new Map(clipOfMatches.map((h, i) => [h.id, i + 1]));
  const score = new Map(clipOfMatches.map((h) => [h.id, h.score]));
  const rrf = (id: number, ftsRank: number) =>
    1 / (RRF_K + ftsRank) + 1 / (RRF_K + (clipRank.get(id) ?? matches.length + 1));
  const tier1 = matches
    .map((id, i) => ({ id, fused: rrf(id, i + 1), fts: i }))
    // ties (a photo first in one list and second in the other against its mirror): bm25's order, then id
    .sort((a, b) => b.fused - a.fused || a.fts - b.fts || a.id - b.id)
    .map(({ id }) => ({ id, score: score.get(id) ?? null }));
  const inTier1 = new Set(matches);
  const tier2 = clip.filter((h) => !inTier1.has(h.id));
  return [...tier1, ...tier2].slice(0, limit);
}
