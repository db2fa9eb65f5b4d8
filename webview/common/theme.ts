/**
 * Colours from VS Code's theme. VS Code sets `--vscode-*` custom properties on the page and a
 * `vscode-light | vscode-dark | vscode-high-contrast(-light)` class on <body>; a theme switch
 * changes both without reloading, so `onThemeChange` watches the class.
 */
export interface Theme {
  kind: "light" | "dark" | "high-contrast" | "high-contrast-light";
  foreground: string;
  background: string;
  /** Grid and axis lines. */
  lines: string;
  blue: string;
  red: string;
  green: string;
  yellow: string;
  orange: string;
  purple: string;
  fontFamily: string;
}

const fallbacks: Record<Theme["kind"], Omit<Theme, "kind" | "fontFamily">> = {
  dark: {
    foreground: "#cccccc",
    background: "#1e1e1e",
    lines: "rgba(128,128,128,0.35)",
    blue: "#3794ff",
    red: "#f14c4c",
    green: "#89d185",
    yellow: "#cca700",
    orange: "#d18616",
    purple: "#b180d7",
  },
  light: {
    foreground: "#616161",
    background: "#ffffff",
    lines: "rgba(128,128,128,0.35)",
    blue: "#1a85ff",
    red: "#e51400",
    green: "#388a34",
    yellow: "#bf8803",
    orange: "#d18616",
    purple: "#652d90",
  },
  "high-contrast": {
    foreground: "#ffffff",
    background: "#000000",
    lines: "#ffffff",
    blue: "#3794ff",
    red: "#f48771",
    green: "#89d185",
    yellow: "#ffd700",
    orange: "#ff9e00",
    purple: "#b180d7",
  },
  "high-contrast-light": {
    foreground: "#292929",
    background: "#ffffff",
    lines: "#292929",
    blue: "#0f4a85",
    red: "#b5200d",
    green: "#374e06",
    yellow: "#895503",
    orange: "#b5200d",
    purple: "#652d90",
  },
};

export function themeKind(): Theme["kind"] {
  const classes = document.body.classList;
  if (classes.contains("vscode-high-contrast-light")) return "high-contrast-light";
  if (classes.contains("vscode-high-contrast")) return "high-contrast";
  if (classes.contains("vscode-light")) return "light";
  return "dark";
}

/** Reads the current theme from the page's custom properties. */
export function readTheme(): Theme {
  const kind = themeKind();
  const style = getComputedStyle(document.documentElement);
  const bodyStyle = getComputedStyle(document.body);
  const v = (name: string): string =>
    (style.getPropertyValue(name) || bodyStyle.getPropertyValue(name)).trim();
  const f = fallbacks[kind];
  return {
    kind,
    foreground: v("--vscode-editor-foreground") || v("--vscode-foreground") || f.foreground,
    background: v("--vscode-editor-background") || f.background,
    lines: v("--vscode-charts-lines") || f.lines,
    blue: v("--vscode-charts-blue") || f.blue,
    red: v("--vscode-charts-red") || f.red,
    green: v("--vscode-charts-green") || f.green,
    yellow: v("--vscode-charts-yellow") || f.yellow,
    orange: v("--vscode-charts-orange") || f.orange,
    purple: v("--vscode-charts-purple") || f.purple,
    fontFamily: v("--vscode-font-family") || "system-ui, sans-serif",
  };
}

/** Calls `listener` when VS Code switches theme (the body class changes). */
export function onThemeChange(listener: () => void): void {
  let last = document.body.className;
  new MutationObserver(() => {
    if (document.body.className === last) return;
    last = document.body.className;
    listener();
  }).observe(document.body, { attributes: true, attributeFilter: ["class"] });
}

/** The colour with an alpha, for fills; colours it cannot parse come back unchanged. */
export function withAlpha(color: string, alpha: number): string {
  const hex = /^#([0-9a-f]{3,8})$/i.exec(color.trim());
  if (hex) {
    let h = hex[1]!;
    if (h.length === 3 || h.length === 4) h = [...h].map((c) => c + c).join("");
    const r = parseInt(h.slice(0, 2), 16);
    const g = parseInt(h.slice(2, 4), 16);
    const b = parseInt(h.slice(4, 6), 16);
    return `rgba(${r}, ${g}, ${b}, ${alpha})`;
  }
  const rgb = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)/i.exec(color.trim());
  if (rgb) return `rgba(${rgb[1]}, ${rgb[2]}, ${rgb[3]}, ${alpha})`;
  return color;
}
