/** The playground's pages: the form alone (`/`), or one task (`/tasks/<id>`). */
export type Route = { readonly page: 'home' } | { readonly page: 'task'; readonly taskId: string };

const TASK_PATH = /^\/tasks\/([^/]+)\/?$/;

/** The route a path stands for; anything unknown is the home page. */
export function parseRoute(pathname: string): Route {
  const match = TASK_PATH.exec(pathname);
  if (!match?.[1]) return { page: 'home' };
  try {
    return { page: 'task', taskId: decodeURIComponent(match[1]) };
  } catch {
    return { page: 'home' };
  }
}

/** The path of a task's page. */
export const taskPath = (id: string): string => `/tasks/${encodeURIComponent(id)}`;

/** The task a route shows, if any. */
export const taskIdOf = (route: Route): string | null =>
  route.page === 'task' ? route.taskId : null;
