// Schema migrations, oldest first. Never edit one that has shipped: add the next.
// Design notes:
// - photos are rows by path; their content hash links them to embeddings and thumbnails, so a moved or renamed
//   file keeps its row (and tags) and identical files share one embedding.
// - embeddings are per (content hash, model id): changing the CLIP model re-indexes without touching tags.
// - photo_tags.source: 'auto' rows are the tagger's (rewritten freely, with their score kept so a new threshold
//   needs no recomputation); 'user' rows are a person's additions and 'removed' rows a person's removals, and
//   the tagger never touches either.
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE folders (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    added_at INTEGER NOT NULL
  );
  CREATE TABLE photos (
    id INTEGER PRIMARY KEY,
    folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ms INTEGER NOT NULL,
    hash TEXT NOT NULL,
    width INTEGER,
    height INTEGER,
    orientation INTEGER,
    taken_at INTEGER,
    indexed_at INTEGER NOT NULL
  );
  CREATE INDEX photos_folder ON photos(folder_id);
  CREATE INDEX photos_hash ON photos(hash);
  CREATE INDEX photos_taken ON photos(taken_at);
  CREATE TABLE embeddings (
    hash TEXT NOT NULL,
    model TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (hash, model)
  ) WITHOUT ROWID;
  CREATE TABLE tags (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    category TEXT,
    -- the vocabulary's own threshold for this label; NULL: the library-wide one
    threshold REAL
  );
  CREATE TABLE photo_tags (
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    source TEXT NOT NULL CHECK (source IN ('auto', 'user', 'removed')),
    score REAL,
    PRIMARY KEY (photo_id, tag_id)
  ) WITHOUT ROWID;
  CREATE INDEX photo_tags_tag ON photo_tags(tag_id, source);
  CREATE TABLE label_embeddings (
    model TEXT NOT NULL,
    prompts_hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, prompts_hash)
  ) WITHOUT ROWID;
  CREATE TABLE index_errors (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ms INTEGER NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    at INTEGER NOT NULL
  );
  CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // 2: conversations (ids never reused: a window may still hold an old one). Attachments are files stored once by content hash (normalised PNG or JPEG); a message links
  // to them in order. An attachment no message uses any more is deleted with its file.
  `
  CREATE TABLE conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL DEFAULT '',
    system_prompt TEXT,
    model TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    text TEXT NOT NULL,
    stats TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX messages_conversation ON messages(conversation_id, id);
  CREATE TABLE attachments (
    hash TEXT PRIMARY KEY,
    file TEXT NOT NULL,
    mime TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE message_attachments (
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    hash TEXT NOT NULL REFERENCES attachments(hash),
    PRIMARY KEY (message_id, position)
  ) WITHOUT ROWID;
  CREATE INDEX message_attachments_hash ON message_attachments(hash);
  `,
  // 3: the size of each thumbnail file, written in the same transaction as its photo's row, so that the space the
  // cache takes is a query (per folder too) rather than a walk of the cache folder. Content no photo uses any more
  // loses its embeddings and this row in the transaction that made it unused; its file goes after the commit.
  // Thumbnails made before this migration get their row from the start-up sweep.
  `
  CREATE TABLE thumbnails (
    hash TEXT PRIMARY KEY,
    bytes INTEGER NOT NULL
  ) WITHOUT ROWID;
  -- each folder's content without a sort: the cache use per folder is one pass over this index
  CREATE INDEX photos_folder_hash ON photos(folder_id, hash);
  DROP INDEX photos_folder;
  `,
  // 4: folder ids are never reused. A plain INTEGER PRIMARY KEY hands a removed folder's id to the next folder added,
  // so a window (or an index run) still holding the old id would reach another folder. Rebuilding the table with
  // AUTOINCREMENT would cascade-delete every photo, so the high-water mark is kept beside it instead.
  `
  CREATE TABLE folder_ids (last INTEGER NOT NULL);
  INSERT INTO folder_ids SELECT coalesce(max(id), 0) FROM folders;
  CREATE TRIGGER folders_high_water AFTER INSERT ON folders BEGIN
    UPDATE folder_ids SET last = max(last, NEW.id);
  END;
  `,
  // 5: every change to which photos have which embedding bumps a generation counter, in the transaction that makes
  // it: the vector index file beside the database (a cache) is current exactly when its stamp has this generation.
  // Counting the embedded photos instead costs a join over every photo at each start (177 ms at 100,000).
  `
  INSERT OR IGNORE INTO settings (key, value) VALUES ('vector_generation', '0');
  ${generationTrigger('photos_added_generation', 'INSERT ON photos')}
  ${generationTrigger('photos_removed_generation', 'DELETE ON photos')}
  ${generationTrigger('photos_content_generation', 'UPDATE OF hash ON photos')}
  ${generationTrigger('embeddings_added_generation', 'INSERT ON embeddings')}
  ${generationTrigger('embeddings_changed_generation', 'UPDATE ON embeddings')}
  ${generationTrigger('embeddings_removed_generation', 'DELETE ON embeddings')}
  `,
  // 6: captions, one per photo and model (the model id; 'person' for a person's own, which is always the one shown
  // and which no model caption or redo replaces). caption_fts holds each photo's shown caption (rowid = photo id) for
  // word search, with English stemming ("running dogs" is found by "dog run"). Triggers keep it in step with the
  // captions in the same statement's transaction, whoever writes them, the photos' cascade included: no code path can
  // leave a deleted photo's words searchable. A photo whose content changed loses its model captions (they describe
  // the old picture; the caption job does it again), never a person's.
  // captions_model serves the caption job's questions (which photos lack a caption by this model, which are older
  // than a redo's start) by index, without reading the caption texts.
  `
  CREATE TABLE captions (
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (photo_id, model)
  ) WITHOUT ROWID;
  CREATE INDEX captions_model ON captions(model, photo_id, created_at);
  CREATE VIRTUAL TABLE caption_fts USING fts5(text, tokenize = 'porter unicode61 remove_diacritics 2');
  ${shownCaptionTrigger('captions_fts_insert', 'INSERT', 'NEW')}
  ${shownCaptionTrigger('captions_fts_update', 'UPDATE', 'NEW')}
  ${shownCaptionTrigger('captions_fts_delete', 'DELETE', 'OLD')}
  CREATE TRIGGER photos_content_captions AFTER UPDATE OF hash ON photos WHEN OLD.hash <> NEW.hash BEGIN
    DELETE FROM captions WHERE photo_id = NEW.id AND model <> 'person';
  END;
  `,
];

/** The FTS row of a photo's shown caption rewritten from the captions table (migration 6). */
function refreshShownCaption(photoId: string): string {
  return `DELETE FROM caption_fts WHERE rowid = ${photoId};
    INSERT INTO caption_fts (rowid, text)
      SELECT photo_id, text FROM captions WHERE photo_id = ${photoId}
      ORDER BY model = 'person' DESC, created_at DESC, model LIMIT 1;`;
}

/** After a change to a photo's captions, its shown caption's FTS row follows (migration 6). */
function shownCaptionTrigger(name: string, event: string, row: 'NEW' | 'OLD'): string {
  return `CREATE TRIGGER ${name} AFTER ${event} ON captions BEGIN
    ${refreshShownCaption(`${row}.photo_id`)}
  END;`;
}

/** A trigger that bumps the vector index's generation counter after `event` (migration 5). */
function generationTrigger(name: string, event: string): string {
  return `CREATE TRIGGER ${name} AFTER ${event} BEGIN
    UPDATE settings SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'vector_generation';
  END;`;
}
