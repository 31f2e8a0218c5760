/** The options GraphiQL's page (src/http/graphiql.ts) starts with: `headers` is a JSON string when prefilled. */
export function graphiqlOptions(html: string): { defaultQuery?: string; headers?: string } {
  const json = /<script type="application\/json" id="graphiql-options">(.*?)<\/script>/s.exec(html)?.[1];
  if (!json) throw new Error('the page carries no GraphiQL options');
  return JSON.parse(json);
}
