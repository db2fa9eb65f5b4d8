/** The zone's processes as a sortable table (pid, command, resident memory, lifetime). */
import { formatBytes, formatDuration } from "../common/format";
import type { ProcessPayload } from "./protocol";

type SortKey = "pid" | "command" | "residentBytes" | "lifetimeSeconds";

const columns: { key: SortKey; label: string; numeric: boolean }[] = [
  { key: "pid", label: "PID", numeric: true },
  { key: "command", label: "Command", numeric: false },
  { key: "residentBytes", label: "Resident memory", numeric: true },
  { key: "lifetimeSeconds", label: "Lifetime", numeric: true },
];

export class ProcessTable {
  readonly element: HTMLElement;
  readonly #body: HTMLTableSectionElement;
  readonly #headers = new Map<SortKey, HTMLTableCellElement>();
  readonly #caption: HTMLTableCaptionElement;
  #processes: ProcessPayload[] = [];
  // Biggest memory first: what someone chasing an OOM wants to see.
  #sortKey: SortKey = "residentBytes";
  #descending = true;

  constructor() {
    this.element = document.createElement("section");
    this.element.className = "processes";
    const table = document.createElement("table");
    this.#caption = table.createCaption();
    const head = table.createTHead().insertRow();
    for (const column of columns) {
      const th = document.createElement("th");
      th.scope = "col";
      if (column.numeric) th.className = "numeric";
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = column.label;
      button.dataset["sort"] = column.key;
      button.addEventListener("click", () => this.sortBy(column.key));
      th.append(button);
      head.append(th);
      this.#headers.set(column.key, th);
    }
    this.#body = table.createTBody();
    this.element.append(table);
    this.#render();
  }

  setProcesses(processes: ProcessPayload[]): void {
    this.#processes = processes;
    this.#render();
  }

  /** Sorts by `key`; the same key again flips the direction. */
  sortBy(key: SortKey): void {
    if (this.#sortKey === key) this.#descending = !this.#descending;
    else {
      this.#sortKey = key;
      this.#descending = key !== "pid" && key !== "command";
    }
    this.#render();
  }

  #render(): void {
    const key = this.#sortKey;
    const direction = this.#descending ? -1 : 1;
    const sorted = [...this.#processes].sort((a, b) => {
      const x = a[key];
      const y = b[key];
      if (x === y) return a.pid - b.pid;
      if (x === null) return 1; // unknowns last either way
      if (y === null) return -1;
      return (typeof x === "string" ? x.localeCompare(y as string) : x - (y as number)) * direction;
    });
    for (const [k, th] of this.#headers)
      th.setAttribute("aria-sort", k === key ? (this.#descending ? "descending" : "ascending") : "none");
    this.#caption.textContent = `${this.#processes.length} processes`;
    const rows = sorted.map((p) => {
      const row = document.createElement("tr");
      row.dataset["pid"] = String(p.pid);
      const cells = [
        String(p.pid),
        p.command || "?",
        formatBytes(p.residentBytes),
        formatDuration(p.lifetimeSeconds),
      ];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (columns[i]!.numeric) td.className = "numeric";
        if (i === 1) td.title = p.command;
        row.append(td);
      });
      return row;
    });
    this.#body.replaceChildren(...rows);
  }
}
