/**
 * The diagnosis document filters the audit log by plain verbs (`action=login`); our rows name
 * what happened more precisely (`auth.login`, `study.register`, or `METHOD /route` for a write
 * whose route declares no name). A verb given as `action` matches every row it covers; anything
 * with a dot or a space is matched exactly as before. The list is documented in the README.
 */
export interface ActionMatch {
  /** Whole action names. */
  exact: readonly string[];
  /** Declared names ending in `.<suffix>`. */
  suffixes: readonly string[];
  /** Undeclared writes, named `METHOD /route`. */
  methods: readonly string[];
}

const none = { exact: [], suffixes: [], methods: [] } as const;

const view: ActionMatch = { ...none, suffixes: ['view', 'list', 'download'] };

export const SPEC_ACTION_VERBS: Readonly<Record<string, ActionMatch | undefined>> = {
  login: { ...none, exact: ['auth.login'] },
  logout: { ...none, exact: ['auth.logout'] },
  refresh: { ...none, exact: ['auth.refresh'] },
  create: { ...none, suffixes: ['create', 'register', 'add', 'copy', 'import_mwl', 'portrait', 'post_proc', 'save_as'], methods: ['POST'] },
  update: {
    ...none,
    suffixes: ['update', 'lock', 'sort', 'apr_update', 'config_update', 'language', 'change_password', 'reset_password', 'restore'],
    methods: ['PUT', 'PATCH'],
  },
  delete: { ...none, suffixes: ['delete', 'task_delete', 'purge', 'clear'], methods: ['DELETE'] },
  view,
  read: view,
  export: { ...none, suffixes: ['export', 'download'] },
  send: { ...none, suffixes: ['store', 'study_store', 'retry'] },
  expose: { ...none, exact: ['task.start', 'task.trigger', 'task.judge', 'task.leave'] },
};

/** The rows an `action` filter selects: a spec verb's set, or the one name given. */
export function actionMatch(action: string): ActionMatch {
  const verb = SPEC_ACTION_VERBS[action.toLowerCase()];
  return verb && !/[. ]/.test(action) ? verb : { ...none, exact: [action] };
}
