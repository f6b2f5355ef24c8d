"""The row rules of :mod:`helhed.parsing` as set-based SQL: the loader's statements for one entity.

Checking and typing rows one by one in Python made the load ~50x slower than a raw COPY. Here
the file sits in a temp table, split by COPY into one text column per field (``pg_temp.load_cols``)
or, when its field counts vary or it has quotes, as lines or csv-parsed arrays
(``pg_temp.load_raw``); one ``create table as select`` strips, checks and types every row
(``pg_temp.load_checked``); landing, staging and the quarantine are then filled from it with one
statement each.

The SQL mirrors the Python rules exactly where data can reach them, in the same order (the first
failing rule of a row wins): field count; per column in order, ``missing_value`` then
``invalid_<type>``; ``end_before_start`` per date pair; ``unknown_code`` per code list; and
``duplicate_key`` among the rows left. A row's ``problem`` is an index into
:attr:`RowSql.problems`; the wording of the detail stays in Python (:meth:`RowSql.bad_row`), for
the few bad rows only. CPR numbers are checked and pseudonymised in Python (the distinct values
of a file only) and joined in from ``pg_temp.load_cpr``, so the key never reaches the server.

Beyond the Python parser's rules, the loader quarantines rows with a control character
(``control_character``; NUL cannot even be stored in PostgreSQL text) or that its CSV reader
cannot split (``unreadable_row``), both flagged while the file is streamed (column ``ctl`` of
``load_raw``), and, in a file whose scan found a CPR-like value outside its CPR columns
(:attr:`helhed.parsing.FileScan.needs_masking`), a CPR-like value in a key or number column
(``cpr_like_value``: a key or a number cannot be masked). The free-text columns of such a file
are masked with :data:`helhed.redaction.CPR_LIKE_SQL` on their way to staging; landing keeps the
raw text.

Keyed entities are versioned by delivery (:attr:`RowSql.versions`): a row replaces the staging
row of its key only if its delivery is not older (delivery date, then the file name in byte
order), so a back-dated correction loaded after a newer file changes nothing; a row equal to
the staging row only takes over its version; and for a changed row the earliest date where the
two versions differ is kept for the incremental build (``changed_from``).

Deliberate differences from the Python parser: a decimal or integer that does not fit its staging
type (``numeric(14,2)``, ``bigint``) and ``NaN``/``Infinity`` are quarantined as
``invalid_decimal``/``invalid_integer`` (the row-by-row loader crashed or stored NaN); digits are
ASCII digits only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from psycopg import sql

from helhed.parsing import EntityRules, code_detail, order_detail, parse_value, value_detail
from helhed.redaction import CPR_LIKE_SQL, CPR_MARKER
from helhed.sources import SQL_TYPES, Entity

#: The characters ``str.strip()`` removes: fields are stripped exactly as the Python parser did.
WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())   # U+3000 is the last

#: strptime's own patterns for the supported directives (without its " 5" day variant).
_DATE_PARTS = {"Y": "([0-9]{4})", "m": "(1[0-2]|0[1-9]|[1-9])", "d": "(3[01]|[12][0-9]|0[1-9]|[1-9])"}
#: ``decimal.Decimal`` syntax after the decimal comma is normalised and underscores removed.
DECIMAL_RE = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
#: ``int()`` syntax: digits, single underscores between them.
INTEGER_RE = r"^[+-]?[0-9]+(_[0-9]+)*$"


def date_pattern(date_format: str) -> tuple[str, str, list[str]]:
    """A regular expression for a strptime format of ``%Y``, ``%m``, ``%d`` and literal separators,
    the separator between them, and the directives in their order, so SQL can rebuild ISO text."""
    parts: list[str] = []
    order: list[str] = []
    separators: list[str] = []
    i = 0
    while i < len(date_format):
        if date_format[i] == "%":
            code = date_format[i + 1:i + 2]
            if code not in _DATE_PARTS or code in order or len(separators) != len(order):
                raise ValueError(f"date_format {date_format!r}: only %Y, %m and %d, once each, one separator apart")
            order.append(code)
            parts.append(_DATE_PARTS[code])
            i += 2
        else:
            ch = date_format[i]
            if len(separators) != len(order) - 1 or ch == "%" or ch.isalnum() or ch.isspace():
                raise ValueError(f"date_format {date_format!r}: only %Y, %m and %d, once each, one separator apart")
            separators.append(ch)
            parts.append("\\" + ch)
            i += 1
    if len(order) != 3 or len(set(separators)) != 1:
        raise ValueError(f"date_format {date_format!r} needs %Y, %m and %d with the same separator between them")
    return "^" + "".join(parts) + "$", separators[0], order


@dataclass(frozen=True)
class Problem:
    """One way a row can fail; ``arg`` is a column, date-pair or code-list index as the rule needs."""

    rule: str
    arg: int = -1


class RowSql:
    """The statements that load one file of ``entity`` through temp tables (dropped at commit)."""

    def __init__(self, entity: Entity, rules: EntityRules, trim: bool = True, mask: bool = False) -> None:
        """``trim=False`` when no field of the file can start or end with whitespace
        (:attr:`helhed.parsing.FileScan.padded`): trimming is a fifth of the checking time.
        ``mask=True`` when a field outside the CPR columns may hold a CPR-like value
        (:attr:`helhed.parsing.FileScan.needs_masking`): free text is masked, keys and numbers
        that hold one are quarantined; a regular expression per field, so only for such files."""
        self.entity, self.rules, self.mask = entity, rules, mask
        cols = entity.columns
        names = [c.name for c in cols]
        n = len(cols)
        D, WS = sql.Literal(entity.delimiter), sql.Literal(WHITESPACE)
        v = [sql.Identifier(f"v{i}") for i in range(n)]      # stripped text, null when empty
        d = [sql.Identifier(f"d{i}") for i in range(n)]      # normalised text for the cast
        t = [sql.Identifier(f"t{i}") for i in range(n)]      # typed value for staging
        self.problems: list[Problem] = [Problem("wrong_field_count")]
        date_re, date_sep, date_order = date_pattern(entity.date_format)

        def problem(p: Problem) -> sql.Composable:
            self.problems.append(p)
            return sql.Literal(len(self.problems) - 1)

        # 1. fields c0..c{n-1} of each data line, from one of two sources: the columns COPY
        # split (``load_cols``, every line had n fields), or lines and csv-parsed fields
        # (``load_raw``; its field count is checked here). Blank lines (only delimiters and
        # whitespace) are no rows; the first-character test spares the full trim on all others.
        fld = [sql.Identifier(f"c{i}") for i in range(n)]   # raw fields, as delivered
        DWS = sql.Literal(entity.delimiter + WHITESPACE)
        from_columns = sql.SQL(
            "select line_no, null::text[] as f, null::integer as ctl, {n} as n, {c} from pg_temp.load_cols "
            "where line_no > 1 and (strpos({DWS}, left(c0, 1)) = 0 or btrim(concat({c}), {WS}) <> '')"
        ).format(n=sql.Literal(n), c=sql.SQL(", ").join(fld), DWS=DWS, WS=WS)
        from_lines = sql.SQL(
            "select line_no, f, ctl, cardinality(f) as n, {fields} from ("
            "select line_no, ctl, case when f is null then string_to_array(line, {D}) else f end as f from pg_temp.load_raw "
            "where line_no > 1 and (strpos({DWS}, left(coalesce(line, f[1]), 1)) = 0 or "
            "btrim(case when f is null then replace(line, {D}, '') else array_to_string(f, '') end, {WS}) <> '') offset 0) s"
        ).format(fields=sql.SQL(", ").join(sql.SQL("f[{}] as {}").format(sql.Literal(i + 1), fld[i]) for i in range(n)),
                 D=D, DWS=DWS, WS=WS)
        # str.strip()
        strip = "nullif(btrim({c}, {WS}), '')" if trim else "nullif({c}, '')"
        stripped = sql.SQL(", ").join(sql.SQL(strip + " as {v}").format(c=fld[i], WS=WS, v=v[i]) for i in range(n))
        # 2. per type, the text a cast will read (or the pseudonym joined from the CPR map)
        derived: list[sql.Composable] = []
        joins: list[sql.Composable] = []
        for i, c in enumerate(cols):
            if c.type == "date":   # split_part, not regexp_replace: a tenth of the time
                iso = sql.SQL(" || '-' || ").join(
                    sql.SQL("split_part({}, {}, {})").format(v[i], sql.Literal(date_sep), sql.Literal(date_order.index(x) + 1))
                    for x in "Ymd")
                derived.append(sql.SQL("case when {v} ~ {re} then {iso} end as {d}").format(
                    v=v[i], re=sql.Literal(date_re), iso=iso, d=d[i]))
            elif c.type == "decimal":   # Danish decimal comma with thousands dots: 1.234,50
                derived.append(sql.SQL(
                    "replace(case when strpos({v}, ',') > 0 then replace(replace({v}, '.', ''), ',', '.') else {v} end, '_', '') as {d}"
                ).format(v=v[i], d=d[i]))
            elif c.type == "integer":
                derived.append(sql.SQL("case when {v} ~ {re} then replace({v}, '_', '') end as {d}").format(
                    v=v[i], re=sql.Literal(INTEGER_RE), d=d[i]))
            elif c.type == "cpr":
                m = sql.Identifier(f"m{i}")
                derived.append(sql.SQL("{}.person_key as {}").format(m, d[i]))
                joins.append(sql.SQL("left join pg_temp.load_cpr {m} on {m}.cpr = l1.{v}").format(m=m, v=v[i]))
        # 3. the first problem of each row, in the Python parser's order
        # (control characters and unreadable lines first: flagged while streaming, before any rule)
        whens: list[sql.Composable] = [sql.SQL("when ctl = -1 then {}").format(problem(Problem("unreadable_row")))]
        whens += [sql.SQL("when ctl = {} then {}").format(sql.Literal(i), problem(Problem("control_character", i)))
                  for i in range(n)]
        whens.append(sql.SQL("when ctl >= {} then {}").format(sql.Literal(n), problem(Problem("control_character"))))
        whens.append(sql.SQL("when n <> {} then 0").format(sql.Literal(n)))
        valid = {
            "date": "{d} is not null and pg_input_is_valid({d}, 'date')",
            "decimal": "{d} ~ {re} and pg_input_is_valid({d}, 'numeric(14,2)')",
            "integer": "{d} is not null and pg_input_is_valid({d}, 'bigint')",
            "cpr": "{d} is not null",
        }
        for i, c in enumerate(cols):
            if c.required:
                whens.append(sql.SQL("when {} is null then {}").format(v[i], problem(Problem("missing_value", i))))
            if c.type in valid:
                whens.append(sql.SQL("when {v} is not null and not (" + valid[c.type] + ") then {p}").format(
                    v=v[i], d=d[i], re=sql.Literal(DECIMAL_RE), p=problem(Problem(f"invalid_{c.type}", i))))
        for k, (start, end) in enumerate(rules.date_order):
            si, ei = names.index(start), names.index(end)
            if cols[si].type == cols[ei].type == "date":
                whens.append(sql.SQL("when {e} is not null and {s} is not null and {e}::date < {s}::date then {p}").format(
                    e=d[ei], s=d[si], p=problem(Problem("end_before_start", k))))
        for k, (column, code_list) in enumerate(rules.codes):
            i = names.index(column)
            value = {"text": v[i], "integer": sql.SQL("{}::bigint::text").format(d[i])}.get(cols[i].type)
            if value is None:
                raise ValueError(f"{entity.id}: code lists apply to text and integer columns, not {column!r}")
            allowed = []
            if code_list.values is not None:
                allowed.append(sql.SQL("{} = any({}::text[])").format(value, sql.Literal(sorted(code_list.values))))
            if code_list.pattern is not None:
                allowed.append(sql.SQL("{} ~ {}").format(value, sql.Literal(f"^(?:{code_list.pattern})$")))
            whens.append(sql.SQL("when {} is not null and not ({}) then {}").format(
                v[i], sql.SQL(" or ").join(allowed), problem(Problem("unknown_code", k))))
        # A CPR-like value where masking would break the value: a key (two rows would share
        # "<cpr>") or a number. Free-text columns are masked instead (below).
        pattern = sql.Literal(CPR_LIKE_SQL)
        free_text = [i for i, c in enumerate(cols) if c.type == "text" and c.name not in entity.key] if mask else []
        if mask:
            for i, c in enumerate(cols):
                if c.type in ("integer", "decimal") or (c.type == "text" and c.name in entity.key):
                    whens.append(sql.SQL("when {v} ~ {re} then {p}").format(
                        v=v[i], re=pattern, p=problem(Problem("cpr_like_value", i))))
        self.duplicate = problem(Problem("duplicate_key"))
        # 4. typed values (cast only on good rows: a bad row's text may not cast)
        typed = []
        for i, c in enumerate(cols):
            if i in free_text:
                typed.append(sql.SQL("regexp_replace({}, {}, {}, 'g') as {}").format(
                    v[i], pattern, sql.Literal(CPR_MARKER), t[i]))
            elif c.type == "text":
                typed.append(sql.SQL("{} as {}").format(v[i], t[i]))
            elif c.type == "cpr":
                typed.append(sql.SQL("{} as {}").format(d[i], t[i]))
            else:
                typed.append(sql.SQL("case when problem is null then {}::{} end as {}").format(
                    d[i], sql.SQL(SQL_TYPES[c.type]), t[i]))
        # "offset 0" keeps each level a subquery, so no expression is computed twice.
        #: the CPR-like values masked in a row (0 unless ``mask``)
        masked = sql.SQL(" + ").join(sql.SQL("coalesce(regexp_count({}, {}), 0)").format(v[i], pattern)
                                     for i in free_text) if free_text else sql.SQL("0")
        checked = sql.SQL(
            "create temp table load_checked on commit drop as "
            "select line_no, f, problem, {masked} as masked, {raw}, {typed} from ("
            " select l2.*, case {whens} end as problem from ("
            "  select l1.*{derived} from ("
            "   select s.*, {stripped} from ({source}) s offset 0"
            "  ) l1 {joins} offset 0"
            " ) l2 offset 0"
            ") l3")
        parts = dict(raw=sql.SQL(", ").join(fld), typed=sql.SQL(", ").join(typed), whens=sql.SQL(" ").join(whens), masked=masked,
                     derived=sql.SQL("").join(sql.SQL(", ") + x for x in derived), stripped=stripped,
                     joins=sql.SQL(" ").join(joins))
        #: the checking statement per source: "columns" (load_cols) or "lines" (load_raw)
        self.check = {"columns": checked.format(source=from_columns, **parts), "lines": checked.format(source=from_lines, **parts)}
        self.create_columns = sql.SQL(
            "create temp table load_cols (line_no integer generated by default as identity, {}) on commit drop"
        ).format(sql.SQL(", ").join(sql.SQL("{} text").format(x) for x in fld))
        self.copy_columns = sql.SQL("copy pg_temp.load_cols ({}) from stdin (delimiter {})").format(
            sql.SQL(", ").join(fld), D)

        cpr_cols = [i for i, col in enumerate(cols) if col.type == "cpr"]
        #: the distinct CPR values of a file (stripped), to pseudonymise in Python, per source
        self.cpr_candidates = {
            "columns": sql.SQL("select distinct v from ({}) c where v is not null").format(sql.SQL(" union all ").join(
                sql.SQL("select " + strip + " as v from pg_temp.load_cols where line_no > 1").format(c=fld[i], WS=WS)
                for i in cpr_cols)),
            "lines": sql.SQL("select distinct v from ({}) c where v is not null").format(sql.SQL(" union all ").join(
                sql.SQL("select nullif(btrim(case when f is null then split_part(line, {D}, {k}) else f[{k}] end, {WS}), '') as v "
                        "from pg_temp.load_raw where line_no > 1").format(D=D, k=sql.Literal(i + 1), WS=WS)
                for i in cpr_cols)),
        } if cpr_cols else None

        table = sql.Identifier(entity.table)
        key_cols = [t[entity.staging_columns.index(k)] for k in entity.key]
        self.mark_duplicates = sql.SQL(
            "update pg_temp.load_checked c set problem = {p} from ("
            "select {keys}, min(line_no) as first from pg_temp.load_checked where problem is null "
            "group by {keys} having count(*) > 1) k where c.problem is null and {match} and c.line_no > k.first"
        ).format(p=self.duplicate, keys=sql.SQL(", ").join(key_cols),
                 match=sql.SQL(" and ").join(sql.SQL("c.{k} = k.{k}").format(k=k) for k in key_cols)) if key_cols else None
        self.select_bad = sql.SQL(
            "select line_no, problem, coalesce(f, array[{}]) from pg_temp.load_checked where problem is not null order by line_no"
        ).format(sql.SQL(", ").join(fld))
        self.insert_landing = sql.SQL(
            "insert into landing.{} (file_id, line_no, {}) select %s, line_no, {} from pg_temp.load_checked where problem is null"
        ).format(table, sql.SQL(", ").join(map(sql.Identifier, names)), sql.SQL(", ").join(fld))
        staging_cols = [*entity.staging_columns, "delivery_date", "source_file"]
        #: the CPR-like values masked in the file's loaded rows
        self.count_masked = sql.SQL("select coalesce(sum(masked), 0)::integer from pg_temp.load_checked where problem is null")
        self.versions: sql.SQL | sql.Composed | None = None
        self.delete_replaced: sql.SQL | sql.Composed | None = None
        self.version_counts: sql.SQL | sql.Composed | None = None
        fresh = sql.SQL("")
        if key_cols:
            self._versioning(table, cols, t, key_cols)
            fresh = sql.SQL(" and not exists (select from pg_temp.load_versions v where v.line_no = c.line_no and v.stale)")
        # Rows go in in key order, which halves the primary key's work against unordered rows or
        # ON CONFLICT (byte order: the index's own order under C.UTF-8, and for hex pseudonyms under any).
        order: sql.Composable = sql.SQL("")
        if key_cols:
            order = sql.SQL(" order by {}").format(sql.SQL(", ").join(
                sql.SQL("{} collate \"C\"").format(k) if cols[entity.staging_columns.index(name)].type in ("text", "cpr") else k
                for k, name in zip(key_cols, entity.key)))
        self.insert_staging = sql.SQL(
            "insert into staging.{} ({}) select {}, %(day)s, %(name)s from pg_temp.load_checked c where problem is null{}{}"
        ).format(table, sql.SQL(", ").join(map(sql.Identifier, staging_cols)), sql.SQL(", ").join(t), fresh, order)

    def _versioning(self, table: sql.Identifier, cols: tuple, t: list[sql.Identifier], key_cols: list[sql.Identifier]) -> None:
        """The statements that version a keyed entity's rows by delivery (parameters ``day``, ``name``).

        ``versions`` pairs each good row of the file with the staging row of its key: ``stale``
        when the staging row comes from a newer delivery (a later delivery date, or the same date
        and a later file name in byte order: the file that wins does not depend on the order
        files are loaded in); ``same`` when every value is equal (a re-export: the row only takes
        the newer version); else ``changed_from``, the earliest date where the two versions
        differ, or the earliest date of either when a value other than a date differs (the
        months from there on change). ``delete_replaced`` removes the staging rows that the
        file's rows replace.
        """
        entity = self.entity
        names = entity.staging_columns
        dates = [i for i, c in enumerate(cols) if c.type == "date"]
        others = [i for i, c in enumerate(cols) if c.type != "date" and names[i] not in entity.key]
        data = [i for i in range(len(cols)) if names[i] not in entity.key]

        def pair(i: int) -> tuple[sql.Composable, sql.Composable]:
            return sql.SQL("s.{}").format(sql.Identifier(names[i])), sql.SQL("c.{}").format(t[i])

        def row(side: int, idx: list[int]) -> sql.Composable:
            return sql.SQL("row({})").format(sql.SQL(", ").join(pair(i)[side] for i in idx))

        every_date = sql.SQL("least({})").format(sql.SQL(", ").join(x for i in dates for x in pair(i)))
        differing = [sql.SQL("case when {a} is distinct from {b} then least({a}, {b}) end").format(a=pair(i)[0], b=pair(i)[1])
                     for i in dates if names[i] not in entity.key]
        earliest_difference = sql.SQL("least({})").format(sql.SQL(", ").join(differing)) if differing else sql.SQL("null::date")
        if not dates:
            changed_from: sql.Composable = sql.SQL("null::date")
        elif others:
            changed_from = sql.SQL("case when {} is distinct from {} then {} else {} end").format(
                row(0, others), row(1, others), every_date, earliest_difference)
        else:
            changed_from = earliest_difference
        same = sql.SQL("{} is not distinct from {}").format(row(0, data), row(1, data)) if data else sql.SQL("true")
        match = sql.SQL(" and ").join(sql.SQL("s.{} = c.{}").format(sql.Identifier(k), key_cols[j])
                                      for j, k in enumerate(entity.key))
        self.versions = sql.SQL(
            "create temp table load_versions on commit drop as "
            "select c.line_no, s.ctid as old, "
            "(s.delivery_date > %(day)s or (s.delivery_date = %(day)s and s.source_file collate \"C\" > %(name)s::text collate \"C\")) as stale, "
            "{same} as same, {changed_from} as changed_from "
            "from pg_temp.load_checked c join staging.{table} s on {match} where c.problem is null"
        ).format(same=same, changed_from=changed_from, table=table, match=match)
        self.delete_replaced = sql.SQL(
            "delete from staging.{} where ctid = any(array(select old from pg_temp.load_versions where not stale))"
        ).format(table)
        #: rows superseded by a newer delivery, rows unchanged, the earliest date a changed row touches
        self.version_counts = sql.SQL(
            "select count(*) filter (where v.stale), count(*) filter (where v.same and not v.stale), "
            "min(v.changed_from) filter (where not v.same and not v.stale) "
            "from pg_temp.load_versions v join pg_temp.load_checked c using (line_no) where c.problem is null")

    def bad_row(self, problem: int, fields: list[str]) -> tuple[str, str, str]:
        """Rule, detail and raw line of a quarantined row, worded as the Python parser words them."""
        p, e = self.problems[problem], self.entity
        fmt, raw_line = e.date_format, e.delimiter.join(fields)
        if p.rule == "unreadable_row":
            return p.rule, ("the line cannot be split into fields (e.g. a carriage return inside an unquoted "
                            "field); control characters are shown as \\xNN"), raw_line
        if p.rule == "control_character":
            where = e.columns[p.arg].header if p.arg >= 0 else "a field after the declared columns"
            return p.rule, f"{where} holds a control character (NUL or another C0/C1 control), shown as \\xNN", raw_line
        if p.rule == "cpr_like_value":
            c = e.columns[p.arg]
            kind = "a key" if c.name in e.key else "a number"
            return p.rule, f"{c.header} holds a CPR-like value, which {kind} column cannot mask", raw_line
        if p.rule == "wrong_field_count":
            return p.rule, f"expected {len(e.columns)} fields, got {len(fields)}", raw_line
        if p.rule == "missing_value":
            return p.rule, f"{e.columns[p.arg].header} is empty", raw_line
        if p.rule.startswith("invalid_"):
            c = e.columns[p.arg]
            return (*value_detail(c.type, c.header, fields[p.arg].strip(), fmt), raw_line)
        names = [c.name for c in e.columns]
        if p.rule == "end_before_start":
            start, end = self.rules.date_order[p.arg]
            s, en = (_date_or_text(fields[names.index(x)].strip(), fmt) for x in (start, end))
            return p.rule, order_detail(start, end, s, en), raw_line
        if p.rule == "unknown_code":
            column, code_list = self.rules.codes[p.arg]
            c = e.columns[names.index(column)]
            return p.rule, code_detail(c.header, parse_value(c.type, fields[names.index(column)].strip(), fmt), code_list), raw_line
        return p.rule, f"{list(e.key)} repeats an earlier line of this file", raw_line


def _date_or_text(text: str, date_format: str) -> date | str:
    try:
        return parse_value("date", text, date_format)   # type: ignore[return-value]
    except ValueError:
        return text
