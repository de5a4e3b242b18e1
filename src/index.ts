/**
 * Kodisc's video player as a JupyterLab 4 / Notebook 7 mime renderer.
 *
 * The kernel puts `application/vnd.kodisc.video+json` first in a render's output bundle, beside the
 * HTML player and its text. JupyterLab's sanitizer strips `<track>` (and `data:` URLs on it) from
 * untrusted HTML, so a notebook a student opens without re-running it would lose its captions; this
 * renderer is `safe` (it draws only what it builds with DOM APIs, text through `textContent`), so it
 * runs in untrusted outputs too and draws the video, poster, captions track and summary line itself.
 * It loads nothing but the URLs the output names: relative paths (files beside the notebook,
 * resolved the way JupyterLab resolves an HTML output's `src`), `data:` URLs of the right media type,
 * and http(s) only for the video and its fallback.
 */
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

export const MIME_TYPE = 'application/vnd.kodisc.video+json';

/** The JSON the kernel sends (kodisc_jupyter/jupyter/player.py: player_data). */
interface IPlayerData {
  version?: number;
  title?: string;
  media?: string | null; // 'text/html': video, poster and captions are the data: URLs of the HTML sibling
  video?: string | null;
  poster?: string | null;
  captions?: string | null;
  fallback?: string | null;
  width?: string;
  max_width?: string;
  summary?: string | null;
  notes?: string[];
}

const CSS_LENGTH = /^\d+(\.\d+)?(px|%|em|rem|vw|ch)$/;
const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;
const CONTROL = /[\u0000-\u001f\u007f\\]/;

type Kind = 'video' | 'poster' | 'captions' | 'fallback';
const DATA_MEDIA: Record<Kind, string> = {
  video: 'video/',
  poster: 'image/',
  captions: 'text/vtt',
  fallback: ''
};
const HTTP_ALLOWED: Record<Kind, boolean> = {
  video: true,
  poster: true,
  captions: false, // a cross-origin track needs CORS and crossorigin, which kills videos on CDNs without it
  fallback: true
};

/** The URL if it is one this kind may load, otherwise null (never `javascript:`, `file:`, ...). */
export function checkedUrl(value: unknown, kind: Kind): string | null {
  if (typeof value !== 'string' || !value || value !== value.trim() || CONTROL.test(value)) {
    return null;
  }
  const scheme = SCHEME.exec(value);
  if (!scheme && !value.startsWith('//')) {
    return kind === 'fallback' ? null : value; // relative: a file beside the notebook
  }
  const name = scheme ? scheme[1].toLowerCase() : 'https';
  if (name === 'http' || name === 'https') {
    return HTTP_ALLOWED[kind] ? value : null;
  }
  if (name === 'data' && DATA_MEDIA[kind] && value.slice(5).toLowerCase().startsWith(DATA_MEDIA[kind])) {
    return value;
  }
  return null;
}

/**
 * The video, poster and captions URLs of the HTML player beside our JSON (an embedded render carries
 * them once, there). DOMParser builds an inert document: no script runs and nothing loads.
 */
export function mediaOfHtml(html: unknown): Partial<IPlayerData> {
  if (typeof html !== 'string') {
    return {};
  }
  const doc = new DOMParser().parseFromString(html, 'text/html');
  const video = doc.querySelector('video.kodisc-video');
  const track = video ? video.querySelector('track') : null;
  return {
    video: video ? video.getAttribute('src') : null,
    poster: video ? video.getAttribute('poster') : null,
    captions: track ? track.getAttribute('src') : null
  };
}

/** A renderer for one output: rebuilt from scratch on every model (outputs are replaced, not patched). */
export class KodiscPlayer extends Widget implements IRenderMime.IRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this._mimeType = options.mimeType;
    this._resolver = options.resolver;
    this.addClass('kodisc-player');
    this.addClass('kodisc-rendered');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = { ...((model.data[this._mimeType] || {}) as IPlayerData) };
    if (data.media === 'text/html') {
      Object.assign(data, mediaOfHtml(model.data['text/html']));
    }
    const node = this.node;
    node.textContent = '';
    const title = typeof data.title === 'string' ? data.title : 'Kodisc video';
    const video = checkedUrl(data.video, 'video');
    if (!video) {
      const message = document.createElement('p');
      message.className = 'kodisc-error';
      message.textContent = `${title}: this output names no video that can be played here.`;
      node.appendChild(message);
      return;
    }
    const element = document.createElement('video');
    element.className = 'kodisc-video';
    element.controls = true;
    element.playsInline = true;
    element.preload = 'metadata';
    element.setAttribute('aria-label', title);
    element.style.width = CSS_LENGTH.test(data.width || '') ? (data.width as string) : '100%';
    element.style.maxWidth = CSS_LENGTH.test(data.max_width || '') ? (data.max_width as string) : '720px';
    const fallback = checkedUrl(data.fallback, 'fallback');
    if (fallback) {
      // The notebook travelled without its kodisc_media/ folder: play the job's public URL, once.
      element.addEventListener('error', () => {
        if (element.getAttribute('src') !== fallback) {
          element.setAttribute('src', fallback);
        }
      });
    }
    const [src, poster, captions] = await Promise.all([
      this._resolve(video),
      this._resolve(checkedUrl(data.poster, 'poster')),
      this._resolve(checkedUrl(data.captions, 'captions'))
    ]);
    if (poster) {
      element.poster = poster;
    }
    if (captions) {
      const track = document.createElement('track');
      track.kind = 'captions';
      track.srclang = 'en';
      track.label = 'English';
      track.default = true;
      track.src = captions;
      element.appendChild(track);
    }
    element.src = src as string;
    node.appendChild(element);
    const lines: [string, unknown][] = [['kodisc-summary', data.summary]];
    for (const note of Array.isArray(data.notes) ? data.notes : []) {
      lines.push(['kodisc-notice', note]);
    }
    for (const [className, text] of lines) {
      if (typeof text === 'string' && text) {
        const line = document.createElement('p');
        line.className = className;
        line.textContent = text;
        node.appendChild(line);
      }
    }
  }

  /** A relative URL as JupyterLab resolves an HTML output's `src` (the notebook's folder, /files/...). */
  private async _resolve(url: string | null): Promise<string | null> {
    if (!url || SCHEME.test(url) || url.startsWith('//') || !this._resolver) {
      return url;
    }
    try {
      const path = await this._resolver.resolveUrl(url);
      return await this._resolver.getDownloadUrl(path);
    } catch {
      return url;
    }
  }

  private _mimeType: string;
  private _resolver: IRenderMime.IResolver | null;
}

const extension: IRenderMime.IExtension = {
  id: 'kodisc-jupyter:player',
  description: "Draws Kodisc's video player with its captions, also in untrusted notebooks.",
  rendererFactory: {
    safe: true,
    mimeTypes: [MIME_TYPE],
    createRenderer: options => new KodiscPlayer(options)
  },
  rank: 0,
  dataType: 'json'
};

export default extension;
