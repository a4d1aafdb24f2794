/** JMS-style messaging: the model, the STOMP ⇄ JMS mapper and the binding seam. */
export * from './model';
export * from './mapper';
export * from './binding';
