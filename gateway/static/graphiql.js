// GraphiQL over the gateway: the IDE renders once the user is signed in (or when the gateway has no sign-in), and
// every request it sends carries the user's token (auth.js). React, ReactDOM and GraphiQL are the npm UMD builds
// the page loads before this module.
import { bindAuthBar, startAuth } from "/static/auth.js";

const root = document.getElementById("graphiql");
const graphqlPath = root.dataset.graphqlPath;
const auth = await startAuth(graphqlPath);
bindAuthBar(auth);

if (auth.ready) {
  const fetcher = GraphiQL.createFetcher({
    url: new URL(graphqlPath, location.href).href,
    fetch: (input, init) => auth.fetch(input, init),
  });
  root.textContent = "";
  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, {
    fetcher,
    defaultQuery: root.dataset.defaultQuery,
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
    inputValueDeprecation: true,
  }));
} else {
  root.textContent = "Sign in to use GraphiQL: its requests act as you.";
}
