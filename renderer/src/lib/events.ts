// DOM events between views that do not know each other: a view announces, the app shell acts.

/** A photo of the library to ask about in the chat: detail { photoId, name }. */
export const ASK_ABOUT_PHOTO = 'glance:ask-about-photo';

export interface AskAboutPhotoDetail {
  photoId: number;
  name: string;
}
