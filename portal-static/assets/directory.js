// People and teams, loaded together, to show names instead of ids.

import { api } from "./api.js";

/**
 * @typedef {{id: string, email: string, role: string, team_id?: string | null, active: boolean, idp?: string,
 *   created_at: string}} User
 * @typedef {{id: string, name: string, created_at: string}} Team
 * @typedef {{users: User[], teams: Team[], userName: (id: string | null | undefined) => string,
 *   teamName: (id: string | null | undefined) => string}} Directory
 */

/** @returns {Promise<Directory>} */
export async function loadDirectory() {
  const [u, t] = await Promise.all([api.get("/admin/users"), api.get("/admin/teams")]);
  /** @type {User[]} */
  const users = u.users ?? [];
  /** @type {Team[]} */
  const teams = t.teams ?? [];
  const userById = new Map(users.map((x) => [x.id, x.email]));
  const teamById = new Map(teams.map((x) => [x.id, x.name]));
  return {
    users,
    teams,
    userName: (id) => (id ? (userById.get(id) ?? id) : "—"),
    teamName: (id) => (id ? (teamById.get(id) ?? id) : "—"),
  };
}

/**
 * Options for a team `<select>`: no team first.
 * @param {Team[]} teams
 * @returns {[string, string][]}
 */
export function teamOptions(teams) {
  return [["", "No team"], ...teams.map((t) => /** @type {[string, string]} */ ([t.id, t.name]))];
}
