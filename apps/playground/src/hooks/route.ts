import { useCallback, useEffect, useState } from 'react';
import { parseRoute, type Route } from '../lib/route.js';

/**
 * The page's route from `location.pathname`, kept in step with back and forward. `navigate`
 * pushes a new history entry (or replaces the current one) and keeps the hash (the tab).
 */
export function useRoute(): readonly [
  Route,
  (path: string, options?: { replace?: boolean }) => void,
] {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const onPop = () => setRoute(parseRoute(location.pathname));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const navigate = useCallback((path: string, options: { replace?: boolean } = {}) => {
    if (path !== location.pathname) {
      const url = `${path}${location.hash}`;
      if (options.replace) history.replaceState(null, '', url);
      else history.pushState(null, '', url);
    }
    setRoute(parseRoute(path));
  }, []);
  return [route, navigate] as const;
}
