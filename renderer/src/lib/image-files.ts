// Pictures a person drops, pastes or picks: which blobs count as images, and their bytes (what crosses IPC; the
// window never sends a path). Shared by the chat composer and the Look view.

/** The most bytes one image may have (the contract's imageRef refuses more). */
export const MAX_IMAGE_BYTES = 64 * 1024 * 1024;

/** Names of picture files the engine reads, for blobs that come without a type (some file managers). */
const IMAGE_NAME = /\.(jpe?g|png|gif|webp|avif|bmp|tiff?|heic|heif)$/i;

/** An image by its type, or by its file name when the type is empty. */
export const isImage = (b: Blob) =>
  b.type.startsWith('image/') || (b.type === '' && b instanceof File && IMAGE_NAME.test(b.name));

/** A blob's bytes (FileReader where Blob.arrayBuffer is missing, as in older test DOMs). */
export async function bytesOf(blob: Blob): Promise<Uint8Array<ArrayBuffer>> {
  if (typeof blob.arrayBuffer === 'function') return new Uint8Array(await blob.arrayBuffer());
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(new Uint8Array(reader.result as ArrayBuffer));
    reader.onerror = () => reject(reader.error);
    reader.readAsArrayBuffer(blob);
  });
}

/**
 * Drag-and-drop handlers for an element that takes dropped files: `dragging` says when files are over it (for its
 * highlight), `onfiles` gets them. A drop is always taken, files or not: a file dropped on the window must never
 * become a navigation.
 */
export function fileDrop(o: { dragging: (over: boolean) => void; onfiles: (files: File[]) => void }) {
  const hasFiles = (e: DragEvent) => [...(e.dataTransfer?.types ?? [])].includes('Files');
  return {
    dragover(e: DragEvent) {
      if (!hasFiles(e)) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
      o.dragging(true);
    },
    dragleave(e: DragEvent) {
      const to = e.relatedTarget as Node | null;
      if (!to || !(e.currentTarget as Node).contains(to)) o.dragging(false);
    },
    drop(e: DragEvent) {
      e.preventDefault();
      o.dragging(false);
      const files = [...(e.dataTransfer?.files ?? [])];
      if (files.length) o.onfiles(files);
    },
  };
}
