import { type FieldNode, type FragmentDefinitionNode, type GraphQLResolveInfo, Kind, type SelectionSetNode } from 'graphql';

type Fragments = Record<string, FragmentDefinitionNode>;

/** Calls `visit` on every field selected in the set, through inline fragments and fragment spreads; false stops. */
function everyField(selectionSet: SelectionSetNode | undefined, fragments: Fragments, visit: (field: FieldNode) => boolean): boolean {
  if (!selectionSet) return true;
  return selectionSet.selections.every((selection) => {
    if (selection.kind === Kind.FIELD) return visit(selection);
    if (selection.kind === Kind.INLINE_FRAGMENT) return everyField(selection.selectionSet, fragments, visit);
    const fragment = fragments[selection.name.value];
    return fragment !== undefined && everyField(fragment.selectionSet, fragments, visit);
  });
}

type Columns<C extends string> = C[] | 'all';

/**
 * The columns of `fieldColumns` (each field of a type, the columns it reads) that the fields selected
 * in `fields` read, through fragments, under any alias; `all` when one of them is missing from it (e.g.
 * a field added later): whole rows, which is always correct.
 */
function columnsRead<C extends string>(
  fieldColumns: Readonly<Record<string, readonly C[]>>,
  fields: readonly FieldNode[],
  fragments: Fragments,
  from: (field: FieldNode, onObject: (selectionSet: SelectionSetNode | undefined) => boolean) => boolean,
): Columns<C> {
  const columns = new Set<C>();
  const onField = (field: FieldNode) => {
    const read = Object.hasOwn(fieldColumns, field.name.value) ? fieldColumns[field.name.value] : undefined;
    for (const column of read ?? []) columns.add(column);
    return read !== undefined;
  };
  const onObject = (selectionSet: SelectionSetNode | undefined) => everyField(selectionSet, fragments, onField);
  return fields.every((field) => from(field, onObject)) ? [...columns] : 'all';
}

/**
 * Remembers a field's answer by its field node: field nodes belong to a parsed document, which Yoga
 * caches and reuses for the same query text, so each document's answer is worked out once.
 */
function byFieldNode<T>(work: (info: GraphQLResolveInfo) => T): (info: GraphQLResolveInfo) => T {
  const known = new WeakMap<FieldNode, T>();
  return (info) => {
    if (info.fieldNodes.length !== 1) return work(info);
    const key = info.fieldNodes[0] as FieldNode;
    let answer = known.get(key);
    if (answer === undefined) {
      answer = work(info);
      known.set(key, answer);
    }
    return answer;
  };
}

/**
 * The columns a connection field's nodes read (`fieldColumns`, see `columnsRead`): the connection's
 * `edges { node }` and `nodes`.
 */
export function connectionColumns<C extends string>(
  fieldColumns: Readonly<Record<string, readonly C[]>>,
): (info: GraphQLResolveInfo) => Columns<C> {
  return byFieldNode((info) =>
    columnsRead(fieldColumns, info.fieldNodes, info.fragments, (connection, onObject) =>
      everyField(connection.selectionSet, info.fragments, (field) => {
        if (field.name.value === 'nodes') return onObject(field.selectionSet);
        if (field.name.value !== 'edges') return true;
        return everyField(field.selectionSet, info.fragments, (edge) => edge.name.value !== 'node' || onObject(edge.selectionSet));
      }),
    ),
  );
}

/**
 * The columns the object of a field that answers one object (or a list of them: `node`, `nodes`) reads,
 * from `fieldColumns` (see `columnsRead`). Fields of another type's inline fragment count too: at worst a
 * column more, or whole rows.
 */
export function objectColumns<C extends string>(
  fieldColumns: Readonly<Record<string, readonly C[]>>,
): (info: GraphQLResolveInfo) => Columns<C> {
  return byFieldNode((info) =>
    columnsRead(fieldColumns, info.fieldNodes, info.fragments, (field, onObject) => onObject(field.selectionSet)),
  );
}
