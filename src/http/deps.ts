import type { SendMail } from '../../subscribers/mail.js';
import type { AppContext } from '../context.js';
import type { PageBrand } from '../publication/branding.js';
import type { BackgroundTasks } from './background.js';
import type { PageRenderer } from './public/pages.js';

/** What route plugins need, built once by buildServer. */
export interface HttpDeps {
  ctx: AppContext;
  sendMail: SendMail;
  pages: PageRenderer;
  background: BackgroundTasks;
  publicationName(): Promise<string>;
  /** Name, logo and footer for the subscriber pages (settings' branding). */
  brand(): Promise<PageBrand>;
}
