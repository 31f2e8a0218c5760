import { GraphQLError } from 'graphql';

export function unauthenticatedError(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: {
      code: 'UNAUTHENTICATED',
      http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="integrations-gateway"' } },
    },
  });
}

export function forbiddenError(message = 'Your API key\'s role does not allow this operation.'): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'FORBIDDEN' } });
}
