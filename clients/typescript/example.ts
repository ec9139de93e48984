// How a front end uses the generated types (compiled by `npm run typecheck`, never shipped).
// schema.d.ts is generated: see the README's "Building a front end".
import type { paths } from "./schema";

type Json<T> = T extends { content: { "application/json": infer B } } ? B : never;

export type LoginRequest = Json<paths["/api/auth/token/"]["post"]["requestBody"]>;
export type TokenPair = Json<paths["/api/auth/token/"]["post"]["responses"][200]>;
export type RefreshRequest = Json<paths["/api/auth/token/refresh/"]["post"]["requestBody"]>;
export type Dashboard = Json<paths["/api/projects/{project_id}/dashboard/"]["get"]["responses"][200]>;
export type ApiError = { type: string; errors: { code: string; detail: string; attr: string | null }[] };

export async function login(base: string, body: LoginRequest): Promise<TokenPair> {
  const response = await fetch(`${base}/api/auth/token/`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw (await response.json()) as ApiError;
  return (await response.json()) as TokenPair;
}

export async function dashboard(base: string, access: string, projectId: string): Promise<Dashboard> {
  const response = await fetch(`${base}/api/projects/${projectId}/dashboard/`, {
    headers: { Authorization: `Bearer ${access}` },
  });
  if (!response.ok) throw (await response.json()) as ApiError;
  return (await response.json()) as Dashboard;
}

// The fields a project page reads are typed: a renamed field fails this file's typecheck.
export function summary(d: Dashboard): string {
  const busy = d.agents.filter((a) => a.is_busy).length;
  const next = d.next_schedules[0]?.next_run_at ?? "none";
  return `${d.project.name}: ${d.agents.length} agents (${busy} busy), ${d.memory.entry_count} memories, ` +
    `${d.usage.total_tokens} tokens in 7 days, next run ${next}`;
}
