/** The type of the message `sendTestEvent` sends, whatever the endpoint's filter. */
export const TEST_EVENT_TYPE = 'webhook_endpoint.test';
