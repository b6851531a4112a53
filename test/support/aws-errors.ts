/** Errors shaped like the ones the AWS SDK and Node raise, for client-double tests (stack-mock.ts). */
export const awsError = (name: string, status = 400, fault: 'client' | 'server' = 'client') =>
  Object.assign(new Error(`${name}: simulated`), {
    name,
    $fault: fault,
    $metadata: { httpStatusCode: status },
  });

export const netError = (code: string, message = `connect ${code} 127.0.0.1:1`) =>
  Object.assign(new Error(message), { code, errno: -1, syscall: 'connect' });

/** What the SDK raises when a 5xx answer is an HTML page (moto's unimplemented operations). */
export const htmlServerError = () =>
  Object.assign(new SyntaxError('Unexpected token < in JSON at position 0'), {
    $fault: 'server',
    $metadata: { httpStatusCode: 500 },
  });
