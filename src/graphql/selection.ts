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

/**
 * The columns a connection field's nodes read, from `fieldColumns` (each field of the node's type, the
 * columns it reads): the connection's `edges { node }` and `nodes`, through fragments, under any alias.
 * A selected field missing from `fieldColumns` (e.g. one added later) answers `all`, whole rows, which is
 * always correct. Field nodes belong to a parsed document, which Yoga caches and reuses for the same
 * query text, so each document's answer is worked out once.
 */
export function connectionColumns<C extends string>(
  fieldColumns: Readonly<Record<string, readonly C[]>>,
): (info: GraphQLResolveInfo) => C[] | 'all' {
  const known = new WeakMap<FieldNode, C[] | 'all'>();
  const columnsOf = (info: GraphQLResolveInfo): C[] | 'all' => {
    const fragments = info.fragments;
    const columns = new Set<C>();
    const onNode = (field: FieldNode) => {
      const read = Object.hasOwn(fieldColumns, field.name.value) ? fieldColumns[field.name.value] : undefined;
      for (const column of read ?? []) columns.add(column);
      return read !== undefined;
    };
    const onEdge = (field: FieldNode) => field.name.value !== 'node' || everyField(field.selectionSet, fragments, onNode);
    const onConnection = (field: FieldNode) => {
      if (field.name.value === 'edges') return everyField(field.selectionSet, fragments, onEdge);
      return field.name.value !== 'nodes' || everyField(field.selectionSet, fragments, onNode);
    };
    return info.fieldNodes.every((field) => everyField(field.selectionSet, fragments, onConnection)) ? [...columns] : 'all';
  };
  return (info) => {
    const key = info.fieldNodes[0] as FieldNode;
    let columns = info.fieldNodes.length === 1 ? known.get(key) : undefined;
    if (columns === undefined) {
      columns = columnsOf(info);
      if (info.fieldNodes.length === 1) known.set(key, columns);
    }
    return columns;
  };
}
