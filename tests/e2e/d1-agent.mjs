// D1 from Node without Miniflare's synchronous proxy: a second worker in the same instance
// (the agent) holds the same D1 bindings and runs the statements it is sent over HTTP, reached
// with dispatchFetch like every request of the tests. Miniflare's proxy (getD1Database) makes a
// blocking cross-thread call for each prepare and bind, and under load its channel sometimes
// trips its own assertion and stays broken; code that sends thousands of statements while the
// Worker is busy (scripts/lib/move.mjs in tests/e2e/move.test.mjs) goes through the agent.

/** The agent's host: dispatchFetch sends requests for it to the agent, not to the Worker. */
export const AGENT_HOST = "d1-agent.test";

const SCRIPT = `export default {
  async fetch(request, env) {
    const { binding, statements } = await request.json();
    const db = env[binding];
    if (!db) return Response.json({ error: "no D1 binding " + binding }, { status: 400 });
    try {
      const answers = await db.batch(statements.map(([sql, params]) => db.prepare(sql).bind(...params)));
      return Response.json(answers.map((a) => ({ results: a.results ?? [], meta: a.meta })));
    } catch (e) {
      return Response.json({ error: String(e && e.message || e) }, { status: 500 });
    }
  },
};`;

/** The agent's worker options, bound to the databases `d1Databases` names (as the Worker's). */
export function agentWorker(d1Databases) {
  return { name: "d1-agent", routes: [`${AGENT_HOST}/*`], modules: true, script: SCRIPT, compatibilityDate: "2026-04-20", d1Databases };
}

/** A D1 binding's API (prepare, bind, first, all, run, raw, batch) for `binding`, over the
 *  agent of the Miniflare instance `mf`. */
export function agentD1(mf, binding) {
  const send = async (statements) => {
    const res = await mf.dispatchFetch(`http://${AGENT_HOST}/`, { method: "POST", body: JSON.stringify({ binding, statements }) });
    const body = await res.json();
    if (!res.ok) throw new Error(`D1 ${binding}: ${body.error}`);
    return body;
  };
  const statement = (sql, params = []) => ({
    sql, params,
    bind: (...values) => statement(sql, values.map((v) => (v === undefined ? null : v))),
    all: async () => (await send([[sql, params]]))[0],
    run: async () => (await send([[sql, params]]))[0],
    first: async (column) => {
      const row = (await send([[sql, params]]))[0].results[0] ?? null;
      return column === undefined || row === null ? row : row[column];
    },
    raw: async () => (await send([[sql, params]]))[0].results.map((r) => Object.values(r)),
  });
  return {
    prepare: (sql) => statement(sql),
    batch: (statements) => send(statements.map((s) => [s.sql, s.params])),
  };
}
