/**
 * Keystone's model: domains, projects, users, role assignments, application credentials and
 * tokens. Every other service validates tokens here, as keystonemiddleware would.
 */
import { newHexId, newSecret, newTokenId } from "../util/ids";

export interface Domain {
  id: string;
  name: string;
}

export interface Project {
  id: string;
  name: string;
  domainId: string;
  description: string;
}

export interface User {
  id: string;
  name: string;
  domainId: string;
  password: string;
  defaultProjectId: string | null;
}

export interface Role {
  id: string;
  name: string;
}

export interface ApplicationCredential {
  id: string;
  name: string;
  userId: string;
  projectId: string;
  secret: string;
  roleIds: string[];
  description: string;
}

export interface TokenRecord {
  id: string;
  userId: string;
  projectId: string | null;
  methods: string[];
  roleIds: string[];
  issuedAt: Date;
  expiresAt: Date;
  auditId: string;
  applicationCredentialId: string | null;
}

/** Who is calling, as the services see it after token validation. */
export interface AuthContext {
  tokenId: string;
  userId: string;
  userName: string;
  userDomainId: string;
  projectId: string | null;
  projectName: string | null;
  projectDomainId: string | null;
  roles: string[];
  isAdmin: boolean;
  expiresAt: Date;
}

/** A reference as Keystone requests carry it: by id, or by name (with a domain where needed). */
export interface NameOrId {
  id?: unknown;
  name?: unknown;
  domain?: { id?: unknown; name?: unknown };
}

export const DEFAULT_DOMAIN_ID = "default";

export class Identity {
  readonly domains = new Map<string, Domain>();
  readonly projects = new Map<string, Project>();
  readonly users = new Map<string, User>();
  readonly roles = new Map<string, Role>();
  readonly applicationCredentials = new Map<string, ApplicationCredential>();
  private readonly assignments: Array<{ userId: string; projectId: string; roleId: string }> = [];
  private readonly tokens = new Map<string, TokenRecord>();

  constructor(private readonly ttlSeconds: number) {
    this.domains.set(DEFAULT_DOMAIN_ID, { id: DEFAULT_DOMAIN_ID, name: "Default" });
  }

  createRole(name: string): Role {
    const role = { id: newHexId(), name };
    this.roles.set(role.id, role);
    return role;
  }

  createProject(name: string, description = ""): Project {
    const project = { id: newHexId(), name, domainId: DEFAULT_DOMAIN_ID, description };
    this.projects.set(project.id, project);
    return project;
  }

  createUser(name: string, password: string, defaultProjectId: string | null): User {
    const user = { id: newHexId(), name, domainId: DEFAULT_DOMAIN_ID, password, defaultProjectId };
    this.users.set(user.id, user);
    return user;
  }

  grant(userId: string, projectId: string, roleName: string): void {
    const role = [...this.roles.values()].find((r) => r.name === roleName);
    if (!role) throw new Error(`no role ${roleName}`);
    this.assignments.push({ userId, projectId, roleId: role.id });
  }

  createApplicationCredential(userId: string, projectId: string, name: string): ApplicationCredential {
    const cred: ApplicationCredential = {
      id: newHexId(),
      name,
      userId,
      projectId,
      secret: newSecret(),
      roleIds: this.roleIdsOn(userId, projectId),
      description: "created by the dockwall lab",
    };
    this.applicationCredentials.set(cred.id, cred);
    return cred;
  }

  findDomain(ref: { id?: unknown; name?: unknown } | undefined): Domain | null {
    if (!ref) return null;
    if (typeof ref.id === "string") return this.domains.get(ref.id) ?? null;
    if (typeof ref.name === "string") return [...this.domains.values()].find((d) => d.name === ref.name) ?? null;
    return null;
  }

  /** Finds a user by id, or by name within the domain given in the reference. */
  findUser(ref: NameOrId, defaultDomainId: string | null = null): User | null {
    if (typeof ref.id === "string") return this.users.get(ref.id) ?? null;
    if (typeof ref.name !== "string") return null;
    const domain = ref.domain ? this.findDomain(ref.domain) : defaultDomainId ? this.domains.get(defaultDomainId) ?? null : null;
    if (!domain) return null;
    return [...this.users.values()].find((u) => u.name === ref.name && u.domainId === domain.id) ?? null;
  }

  findProject(ref: NameOrId, defaultDomainId: string | null = null): Project | null {
    if (typeof ref.id === "string") return this.projects.get(ref.id) ?? null;
    if (typeof ref.name !== "string") return null;
    const domain = ref.domain ? this.findDomain(ref.domain) : defaultDomainId ? this.domains.get(defaultDomainId) ?? null : null;
    if (!domain) return null;
    return [...this.projects.values()].find((p) => p.name === ref.name && p.domainId === domain.id) ?? null;
  }

  roleIdsOn(userId: string, projectId: string): string[] {
    return this.assignments.filter((a) => a.userId === userId && a.projectId === projectId).map((a) => a.roleId);
  }

  /** Projects on which the user has at least one role. */
  projectsOf(userId: string): Project[] {
    const ids = new Set(this.assignments.filter((a) => a.userId === userId).map((a) => a.projectId));
    return [...this.projects.values()].filter((p) => ids.has(p.id));
  }

  issue(userId: string, projectId: string | null, methods: string[], roleIds: string[], appCredId: string | null = null): TokenRecord {
    const now = new Date();
    const token: TokenRecord = {
      id: newTokenId(),
      userId,
      projectId,
      methods,
      roleIds,
      issuedAt: now,
      expiresAt: new Date(now.getTime() + this.ttlSeconds * 1000),
      auditId: newSecret(16),
      applicationCredentialId: appCredId,
    };
    this.tokens.set(token.id, token);
    return token;
  }

  /** The token if it exists and has not expired (expired tokens are forgotten). */
  validate(tokenId: string | undefined): TokenRecord | null {
    if (!tokenId) return null;
    const token = this.tokens.get(tokenId);
    if (!token) return null;
    if (token.expiresAt.getTime() <= Date.now()) {
      this.tokens.delete(tokenId);
      return null;
    }
    return token;
  }

  revoke(tokenId: string): boolean {
    return this.tokens.delete(tokenId);
  }

  context(tokenId: string | undefined): AuthContext | null {
    const token = this.validate(tokenId);
    if (!token) return null;
    const user = this.users.get(token.userId);
    if (!user) return null;
    const project = token.projectId ? this.projects.get(token.projectId) ?? null : null;
    const roles = token.roleIds.map((id) => this.roles.get(id)?.name).filter((n): n is string => n !== undefined);
    return {
      tokenId: token.id,
      userId: user.id,
      userName: user.name,
      userDomainId: user.domainId,
      projectId: project?.id ?? null,
      projectName: project?.name ?? null,
      projectDomainId: project?.domainId ?? null,
      roles,
      isAdmin: roles.includes("admin"),
      expiresAt: token.expiresAt,
    };
  }
}
